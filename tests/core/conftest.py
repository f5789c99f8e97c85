"""Core tests run against a live MongoDB-wire server (see cybexp_core.testing)."""

pytest_plugins = ["cybexp_core.testing"]
