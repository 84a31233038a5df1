"""Conversations in Slack threads (issue 12, points 1 and 2).

* ``conversation_notices``: where a conversation (``message_threads``) is shown to a user — the parent of a thread
  in their DM with the app — and which process holds it while posting, so the parent is posted once.
* ``conversation_events``: the conversation events (replies, bounces, unsubscribes, follow-ups) recorded until
  they are shown in that thread, so none is lost when Slack is slow or a process stops.
* ``conversation_replies``: replies written in such a thread and sent as one-recipient drafts; the Slack message
  is unique (a message delivered twice is sent once) and an e-mail reply's threading headers are kept here.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversation_notices",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("thread_id", Id, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", When, nullable=True),
        sa.Column("updated_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["message_threads.id"],
            name=op.f("fk_conversation_notices_thread_id_message_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "thread_id", "user_id", name=op.f("pk_conversation_notices")),
    )
    # A reply in a DM thread names the thread by its parent (channel, ts): that is how its conversation is found.
    op.create_index("ix_conversation_notices_place", "conversation_notices", ["team_id", "channel", "ts"])

    op.create_table(
        "conversation_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("thread_id", Id, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("mpid", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("draft_id", Id, nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("held", sa.JSON(), nullable=False),
        sa.Column("posted_ts", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("done_at", When, nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["message_threads.id"],
            name=op.f("fk_conversation_events_thread_id_message_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_events")),
    )
    # The events still to show (done_at IS NULL), by when they are due; and a conversation's, in order.
    op.create_index("ix_conversation_events_due", "conversation_events", ["done_at", "due_at"])
    op.create_index(
        "ix_conversation_events_conversation",
        "conversation_events",
        ["team_id", "thread_id", "user_id", "id"],
    )

    op.create_table(
        "conversation_replies",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("draft_id", Id, nullable=False),
        sa.Column("thread_id", Id, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("source_channel", sa.String(length=32), nullable=False),
        sa.Column("source_ts", sa.String(length=32), nullable=False),
        sa.Column("in_reply_to", sa.String(length=998), nullable=False),
        sa.Column("reference_ids", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["drafts.id"],
            name=op.f("fk_conversation_replies_draft_id_drafts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["message_threads.id"],
            name=op.f("fk_conversation_replies_thread_id_message_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "draft_id", name=op.f("pk_conversation_replies")),
        sa.UniqueConstraint("team_id", "source_channel", "source_ts", name="uq_conversation_replies_source"),
    )


def downgrade() -> None:
    op.drop_table("conversation_replies")
    op.drop_index("ix_conversation_events_conversation", table_name="conversation_events")
    op.drop_index("ix_conversation_events_due", table_name="conversation_events")
    op.drop_table("conversation_events")
    op.drop_index("ix_conversation_notices_place", table_name="conversation_notices")
    op.drop_table("conversation_notices")
