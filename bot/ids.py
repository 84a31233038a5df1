"""Every Slack id the app uses: commands, callback ids, action ids, block ids.

manifest.yml is checked against this module by a test (the command, scopes and events). Block ids in lists that
are re-rendered end with the render's state key (``block_id(BLOCK_FILTERS, key)``): new ids on every render, so
Slack never reuses stale element state (SLACK.md §1.1), and an action tells which render — which search, filters
and page — it came from.
"""

from __future__ import annotations

# Slash command -------------------------------------------------------------------------------------------
COMMAND = "/prospects"
COMMAND_USAGE = (
    "[search text] | marketplace [partners|creators] [text] | drafts | templates | stats [--days N]"
    " | connect-email | help"
)

# Scopes the bot uses (manifest.yml's oauth_config.scopes.bot must equal this set) --------------------
BOT_SCOPES = frozenset(
    {
        "commands",  # /prospects
        "chat:write",  # progress DMs, digests, lists
        "im:write",  # conversations.open for DMs
        "files:read",  # downloading file_input uploads
        "users:read",  # users.info: locale, time zone, name
        "users:read.email",  # prefilled reply-to
        "usergroups:read",  # SENDERS_USERGROUP membership
        "files:write",  # a partner's files into the conversation's thread; a send's results file
        "im:history",  # message.im: replies written in a conversation's thread
    }
)

# Events the app subscribes to (manifest.yml's settings.event_subscriptions.bot_events must equal this set) -----
BOT_EVENTS = frozenset(
    {
        "app_home_opened",  # the Home tab
        "app_uninstalled",  # an install ends: its tokens go at once, its sends stop (bot/installs/uninstall.py)
        "tokens_revoked",  # the bot token revoked: the same
        "message.im",  # a reply written in a conversation's thread of the DM with the app
    }
)

# Installing from a link (Bolt's OAuth flow; manifest.yml's oauth_config.redirect_urls end with the redirect) --
INSTALL_PATH = "/slack/install"  # the "Add to Slack" page
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"  # where Slack sends the installer back with a code

# /prospects list (a message) -----------------------------------------------------------------------------
ACTION_PICK = "prospects.pick"  # checkboxes of one page
ACTION_SELECT_ALL = "prospects.select_all"
ACTION_SELECT_MATCHING = "prospects.select_matching"  # every match of the search and filters, on every page
ACTION_CLEAR = "prospects.clear"
ACTION_PAGE_PREV = "prospects.prev"
ACTION_PAGE_NEXT = "prospects.next"
ACTION_ROW_MORE = "prospects.more"  # overflow per row: message / email
ACTION_EMAIL_PICKED = "prospects.email_picked"
ACTION_MESSAGE_PICKED = "prospects.message_picked"
ACTION_FILTER_KIND = "prospects.filter.kind"
ACTION_FILTER_MESSAGING = "prospects.filter.messaging"
ACTION_FILTER_COUNTRY = "prospects.filter.country"
ACTION_FILTER_NOT_CONTACTED = "prospects.filter.not_contacted"
BLOCK_PICKS = "picks"  # picks~<mpid>~<state key>
BLOCK_FILTERS = "filters"  # filters~<state key>
BLOCK_BULK = "bulk"
BLOCK_NAV = "nav"

# Marketplace ---------------------------------------------------------------------------------------------
ACTION_MARKET_TAB = "market.tab"
ACTION_MARKET_PREV = "market.prev"
ACTION_MARKET_NEXT = "market.next"
ACTION_MARKET_OPEN = "market.open"  # open a partner card
ACTION_MARKET_EMAIL = "market.email"
ACTION_MARKET_MARK = "market.mark_prospect"
CALLBACK_PARTNER_CARD = "market.card"
CALLBACK_SELECT_MATCHING = "prospects.select_matching"  # "Select all 1,234 matching?": the confirmation

# Compose modals ------------------------------------------------------------------------------------------
CALLBACK_COMPOSE_EMAIL = "compose.email"
CALLBACK_COMPOSE_MESSAGE = "compose.message"
CALLBACK_CHECKING = "compose.checking"
CALLBACK_PREPARING = "modal.preparing"  # shown at once on a click, then filled in
CALLBACK_PREVIEW = "compose.preview"
BLOCK_RECIPIENTS = "recipients"
BLOCK_SENDER_NAME = "sender_name"
BLOCK_REPLY_TO = "reply_to"
BLOCK_SUBJECT = "subject"
BLOCK_CONTENT = "content"
BLOCK_ATTACHMENTS = "attachments"
BLOCK_KEPT_FILES = "kept_files"
BLOCK_PREVIEW_FOR = "preview_for"
ACTION_INPUT = "value"  # the action_id of every input element in the compose forms
ACTION_COMPOSE_PREVIEW = "compose.preview"
ACTION_COMPOSE_SEND_TEST = "compose.send_test"
ACTION_COMPOSE_SAVE_DRAFT = "compose.save_draft"
ACTION_PREVIEW_FOR = "compose.preview_for"
# Follow-ups in the form: each step's blocks carry its key (kept in private_metadata), so that adding or removing
# a step re-renders the form with views.update and Slack keeps what was typed in every other block.
ACTION_FOLLOWUP_ADD = "compose.followup_add"
ACTION_FOLLOWUP_REMOVE = "compose.followup_remove"  # value: the step's key
BLOCK_FOLLOWUP_ADD = "followup_add"
BLOCK_SEND_AT = "send_at"  # datetimepicker: send later
BLOCK_SEND_LOCAL = "send_local"  # checkbox: at that time of day in each partner's time zone
FOLLOWUP_PARTS = ("head", "days", "subject", "content")


def followup_block(key: int, part: str) -> str:
    """The block id of one part of the follow-up step ``key``: ``followup_2_content``."""
    return f"followup_{key}_{part}"


def followup_of(block_id_value: str) -> tuple[int, str] | None:
    """(key, part) of a follow-up step's block id; None for any other block."""
    base, _, rest = block_id_value.partition("followup_")
    key, _, part = rest.partition("_")
    if base or not key.isdigit() or part not in FOLLOWUP_PARTS:
        return None
    return int(key), part


# Shared templates -----------------------------------------------------------------------------------------------
# The menu at the top of the compose form: an external_select in an input block with dispatch_action (its options
# are served by an ``options`` listener, block_suggestion); picking one rewrites the form with views.update.
BLOCK_TEMPLATE_MENU = "template_menu"
ACTION_TEMPLATE_MENU = "compose.template"
ACTION_COMPOSE_SAVE_TEMPLATE = "compose.save_template"
CALLBACK_TEMPLATE = "template.form"  # "Save as template" and Edit: name, subject, content, files
BLOCK_TEMPLATE_NAME = "tpl_name"
BLOCK_TEMPLATE_SUBJECT = "tpl_subject"
BLOCK_TEMPLATE_CONTENT = "tpl_content"
BLOCK_TEMPLATE_FILES = "tpl_files"
BLOCK_TEMPLATE_UPLOAD = "tpl_upload"  # new files for a template being edited
# /prospects templates (an ephemeral message): each button's value is the template's id, or the page
ACTION_TEMPLATE_USE = "template.use"
ACTION_TEMPLATE_EDIT = "template.edit"
ACTION_TEMPLATE_DELETE = "template.delete"
ACTION_TEMPLATES_PAGE = "templates.page"

# The user's own e-mail account ---------------------------------------------------------------------------------
CALLBACK_CONNECT_EMAIL = "account.connect"
BLOCK_ACCOUNT_HOST = "acct_host"
BLOCK_ACCOUNT_PORT = "acct_port"
BLOCK_ACCOUNT_SECURITY = "acct_security"
BLOCK_ACCOUNT_USERNAME = "acct_username"
BLOCK_ACCOUNT_PASSWORD = "acct_password"  # noqa: S105 (a block id, not a password)
BLOCK_ACCOUNT_FROM = "acct_from"
BLOCK_ACCOUNT_IMAP_HOST = "acct_imap_host"  # the mailbox read for replies and bounces (same login)
BLOCK_ACCOUNT_IMAP_PORT = "acct_imap_port"
BLOCK_ACCOUNT_IMAP_SECURITY = "acct_imap_security"

# The workspace's settings (App Home → Settings; admins and owners save, everyone reads) ----------------------
ACTION_HOME_SETTINGS = "home.settings"
BLOCK_WS_HOME = "ws_home"  # the Home tab's block with the Settings button
CALLBACK_WORKSPACE_SETTINGS = "workspace.settings"  # the admins' form
CALLBACK_WORKSPACE_SETTINGS_READ = "workspace.settings_read"  # what everyone else sees: no submit
BLOCK_WS_FROM_ADDRESS = "ws_from_address"
BLOCK_WS_FROM_NAME = "ws_from_name"
BLOCK_WS_SMTP_HOST = "ws_smtp_host"
BLOCK_WS_SMTP_PORT = "ws_smtp_port"
BLOCK_WS_SMTP_SECURITY = "ws_smtp_security"
BLOCK_WS_SMTP_USERNAME = "ws_smtp_username"
BLOCK_WS_SMTP_PASSWORD = "ws_smtp_password"  # noqa: S105 (a block id, not a password)
BLOCK_WS_WEBHOOK_URL = "ws_webhook_url"
BLOCK_WS_WEBHOOK_SECRET = "ws_webhook_secret"  # noqa: S105 (a block id, not a secret)
BLOCK_WS_USERGROUP = "ws_usergroup"
BLOCK_WS_RECENT_DAYS = "ws_recent_days"
BLOCK_WS_DIGEST_TIME = "ws_digest_time"

# Drafts and delivery -------------------------------------------------------------------------------------
ACTION_DRAFT_OPEN = "draft.open"
ACTION_DRAFT_SEND = "draft.send"
ACTION_DRAFT_DELETE = "draft.delete"
ACTION_RETRY_FAILED = "delivery.retry_failed"
ACTION_UNSCHEDULE = "draft.unschedule"  # a scheduled send back to a draft
ACTION_SEND_NOW = "draft.send_now"  # a scheduled send, at once
ACTION_FOLLOWUPS_CANCEL = "followups.cancel"  # a send's remaining follow-ups (value: its draft id)
ACTION_DOWNLOAD_RESULTS = "delivery.download_results"  # a send's results as a CSV file (value: its draft id)


def base_of(block_id_value: str) -> str:
    """A block id without its render key: ``subject~2`` → ``subject``."""
    return block_id_value.partition("~")[0]


def block_id(base: str, render: int | str) -> str:
    """A block id unique to one render of a message: ``picks~3``."""
    return f"{base}~{render}"


def render_of(block_id_value: str) -> str:
    """The render key a block id ends with (``picks~m1~KEY`` → ``KEY``); empty when it has none."""
    rest = block_id_value.partition("~")[2]
    return rest.rsplit("~", 1)[-1] if rest else ""
