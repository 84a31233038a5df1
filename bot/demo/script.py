"""The demo's scripted Slack session, printed screen by screen."""

from __future__ import annotations

import email.message
import json
from email import message_from_bytes, policy
from typing import Any

from bot import ids
from bot.demo.sample import ads_jsonl, partners_csv
from bot.devtools.harness import FullApp, button, input_values, mpid_of, row_of, rows, tick, wait_for
from bot.devtools.maildir_smtp import MaildirSmtpServer
from bot.devtools.samples import pdf
from bot.devtools.screens import builder_link, render
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.importing import import_ads, import_partners
from outreach.models import DraftStatus

TEAM, USER = "T0001", "U0001"
CONTENT = (
    "Hi {firstName},\n\n"
    "I run partnerships at Brand. {mpname} (partner #{mpid}) looks like a great fit for our winter campaign:\n"
    "{adcode_1122330}\n\n"
    "Could we talk this week? I attached our programme overview.\n\n"
    "Best,\nAnn — sent {currentDay} ({currentMonthYear})"
)


class Script:
    def __init__(self, app: FullApp, smtp: MaildirSmtpServer, out: Any) -> None:
        self.app = app
        self.smtp = smtp
        self.out = out
        self.step = 0

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def screen(self, title: str, surface: dict[str, Any]) -> None:
        self.step += 1
        self.say(f"\n━━ {self.step}. {title} " + "━" * max(0, 70 - len(title)))
        self.say(render(surface))
        self.say(f"  ↗ Open in Block Kit Builder: {builder_link(surface)}")

    def _suitable(self, row: dict[str, Any]) -> bool:
        partner = self.app.services.prospects.get(TEAM, mpid_of(row)).partner
        return bool(partner.first_name and partner.email)

    def play(self) -> None:
        self.load_data()
        self.bulk_email()
        self.infected_attachment()
        self.message()
        self.received()

    def load_data(self) -> None:
        uow = self.app.services.uow
        partners = import_partners(partners_csv(), TEAM, uow, filename="partners.csv", actor="demo")
        ads = import_ads(ads_jsonl(), TEAM, uow, filename="ads.jsonl", actor="demo")
        self.say(f"Imported partners.csv: {partners.inserted} partners; ads.jsonl: {ads.inserted} ads.")

    def bulk_email(self) -> None:
        app = self.app
        page1 = app.command(USER)
        self.screen("/prospects — page 1", page1)
        chosen = [mpid_of(r) for r in rows(page1) if self._suitable(r)][:2]
        for mpid in chosen:  # each tick shows the page again: the next box is ticked on the page as it is now
            page1 = app.click(USER, page1, tick(row_of(page1, mpid))) or page1
        page2 = app.click(USER, page1, button(page1, ids.ACTION_PAGE_NEXT)) or page1
        row = next(r for r in rows(page2) if self._suitable(r))
        page2 = app.click(USER, page2, tick(row)) or page2
        self.screen("Ticks on page 1 and page 2 — page 2 now", page2)
        seen = len(app.standin.view_log)
        app.click(USER, page2, button(page2, ids.ACTION_EMAIL_PICKED), expect_response=False)
        form = app.opened_after(seen)
        self.screen("“Email (3)” opens the email form", form)
        upload = app.standin.add_file(
            "Partner programme 2038.pdf", pdf(b"Brand partner programme"), "application/pdf"
        )
        submitted = len(app.standin.view_log)
        answer = app.submit(
            USER,
            form,
            input_values(
                sender_name="Ann Lee",
                reply_to="ann@brand.example.com",
                subject="{firstName}, a winter campaign for {mpname}?",
                content=CONTENT,
                attachments=[upload],
            ),
        )
        self.screen("Send: the form is checked, then the attachment is scanned", answer.json()["view"])
        done = wait_for(lambda: self._final_view(form["id"], submitted), what="the verdict")
        self.screen("Attachment clean — sending in the background", done)
        wait_for(self._sent_all, timeout=60, what="the send to finish")
        summary = wait_for(lambda: self._dm_with("Sent"), what="the summary DM")
        self.screen("Your DM: the result per recipient", summary)

    def infected_attachment(self) -> None:
        app = self.app
        page = app.command(USER)
        row = rows(page)[0]
        seen = len(app.standin.view_log)
        app.click(
            USER,
            page,
            {
                "type": "overflow",
                "action_id": ids.ACTION_ROW_MORE,
                "block_id": row["block_id"],
                "selected_option": {"value": f"email:{mpid_of(row)}"},
            },
            expect_response=False,
        )
        form = app.opened_after(seen)
        infected = app.standin.add_file("contacts.csv", eicar_test_bytes(), "text/csv")
        submitted = len(app.standin.view_log)
        app.submit(
            USER,
            form,
            input_values(
                sender_name="Ann Lee",
                reply_to="ann@brand.example.com",
                subject="Our contact list",
                content="Hi {firstName}, see attached.",
                attachments=[infected],
            ),
        )
        refused = wait_for(lambda: self._final_view(form["id"], submitted), what="the verdict")
        self.screen("An attachment with the EICAR test signature is refused (nothing is sent)", refused)

    def message(self) -> None:
        app = self.app
        page = app.command(USER)
        row = next(
            r
            for r in rows(page)
            if any(o["value"].startswith("message:") for o in r["elements"][1]["options"])
        )
        mpid = mpid_of(row)
        seen = len(app.standin.view_log)
        app.click(
            USER,
            page,
            {
                "type": "overflow",
                "action_id": ids.ACTION_ROW_MORE,
                "block_id": row["block_id"],
                "selected_option": {"value": f"message:{mpid}"},
            },
            expect_response=False,
        )
        form = app.opened_after(seen)
        self.screen("More → Message (only for prospects with messaging enabled)", form)
        app.submit(
            USER, form, input_values(content="Hi {firstName}, thanks for joining our programme! — Ann")
        )
        received = wait_for(lambda: app.inbox.messages, what="the message")[-1]
        self.say(f"\nIn-platform message delivered to partner {received['mpid']} (signed webhook):")
        self.say(f"    “{received['text']}”")

    def received(self) -> None:
        self.step += 1
        self.say(f"\n━━ {self.step}. The e-mails as received by the SMTP server " + "━" * 30)
        for raw in self.smtp.messages():
            msg = message_from_bytes(bytes(raw), policy=policy.default)
            assert isinstance(msg, email.message.EmailMessage)
            self.say(
                f"From: {msg['From']}\nTo: {msg['To']}\nReply-To: {msg['Reply-To']}\nSubject: {msg['Subject']}"
            )
            body = msg.get_body(("plain",))
            if body is not None:
                self.say("\n" + str(body.get_content()).rstrip())
            for part in msg.iter_attachments():
                size = len(part.get_content())
                self.say(f"📎 {part.get_filename()} ({part.get_content_type()}, {size:,} bytes)")
            self.say("─" * 78)

    # -- helpers --------------------------------------------------------------------------------------
    def _final_view(self, view_id: str, since: int) -> dict[str, Any] | None:
        """The form's view after the checks: the app updates it once the files are judged and the send starts
        (``since``: the view log's length when the form was submitted)."""
        log = self.app.standin.view_log[since:]
        updates = [v for m, v in log if m == "views.update" and v["id"] == view_id]
        return updates[-1] if updates else None

    def _sent_all(self) -> bool:
        with self.app.services.uow() as uow:
            drafts = uow.drafts.for_author(TEAM, USER)
        return bool(drafts) and all(d.status is not DraftStatus.SENDING for d in drafts)

    def _dm_with(self, word: str) -> dict[str, Any] | None:
        for method in ("chat.update", "chat.postMessage"):
            for call in reversed(self.app.standin.calls_to(method)):
                if word in json.dumps(call.args.get("blocks", [])):
                    return {"blocks": call.args["blocks"]}
        return None
