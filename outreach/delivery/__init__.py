"""The send pipeline: claim a batch of deliveries, render, send, record each result.

A send is a stored plan (see :mod:`outreach.compose`); workers only move its rows along:
``PENDING → CLAIMED`` (a batch, an attempt counted) ``→ IN_FLIGHT`` (a group of ``in_flight_group`` e-mails,
committed before any of them goes out) ``→ SENT`` or ``FAILED``, or back to ``PENDING`` with a later due time
after a passing refusal. One recipient's failure never stops the others. A group's results (its sent rows in
one statement, its partners marked contacted — by whom, when — in another) are committed in the transaction
that puts the next group in flight: one commit a group, not two a message (a commit costs as much as building
a message, and the throughput target is 80% of a bare SMTP loop).

The window between "in flight" and "recorded": a worker killed there leaves its group IN_FLIGHT, and nobody
can know which of those messages left. We resolve it **at most once**: once the claim lease has passed, those
rows are marked FAILED ("interrupted while sending") and never retried by themselves, because a partner
receiving the same e-mail twice is worse for the author than a few missing e-mails that the summary names and
that "Retry failed" sends again on the author's say-so. The rest of the dead worker's batch (CLAIMED, never
attempted) goes back to the queue. The window is one group long (``in_flight_group=1``: the one message being
sent). In-platform messages go one at a time.

Why a delivery does not go is a :class:`~outreach.errors.Refusal` — its reason, permanent or passing, and
whether the address bounced — made where it is known (the SMTP and webhook adapters, the attachments'
re-check, the batch's reads), never read back from the text of a reason.

The modules, one reason to change each:

* :mod:`~outreach.delivery.worker` — the loop (:class:`DeliveryWorker`): claim, groups in flight, sessions,
  recovery of interrupted deliveries, shutdown;
* :mod:`~outreach.delivery.batch` — what a batch reads once (drafts, attachments re-checked, recipients,
  suppressions) and each delivery's message built before anything goes;
* :mod:`~outreach.delivery.recording` — results into the database, and a finished send closed;
* :mod:`~outreach.delivery.retry` — when a passing refusal is tried again (:class:`RetryPolicy`);
* :mod:`~outreach.delivery.throttle` — SEND_RATE_PER_SECOND per sending account, shared by every process
  (:class:`Throttle`);
* :mod:`~outreach.delivery.progress` — where a send stands, told to a listener (:class:`Progress`).
"""

from outreach.delivery.progress import Progress, ProgressListener
from outreach.delivery.retry import RetryPolicy
from outreach.delivery.throttle import Throttle
from outreach.delivery.worker import INTERRUPTED, DeliveryWorker

__all__ = ["INTERRUPTED", "DeliveryWorker", "Progress", "ProgressListener", "RetryPolicy", "Throttle"]
