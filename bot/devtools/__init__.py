"""Tools that stand in for Slack on this machine: used by the tests and by the offline demo."""
