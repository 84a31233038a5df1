"""Slack listeners. Each module has a class whose methods are plain functions (no decorators, so tests call
them directly) and a ``register(app, services)`` that maps Slack ids to them."""
