pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.clamd",
    "tests.fixtures.smtp",
    "tests.fixtures.dovecot",
]
