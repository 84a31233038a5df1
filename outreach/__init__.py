"""The outreach core: validation, scanning, token rendering, drafts and sending.

Nothing here imports Slack or SQL. What the core needs from the outside world is stated as
small Protocols in :mod:`outreach.ports`; adapters in :mod:`outreach.adapters` implement them.
"""
