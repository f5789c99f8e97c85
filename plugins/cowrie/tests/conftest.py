"""Fixtures of the Cowrie plugin tests (helpers are in ``cowrie_helpers``)."""

from __future__ import annotations

import pytest

pytest_plugins = ["cybexp_core.testing"]


@pytest.fixture(scope="session")
def cowrie():
    """The installed plugin, loaded through its entry point with default settings."""
    from cybexp_core.testing import load_filter

    return load_filter("cowrie")


@pytest.fixture(scope="session")
def run(cowrie):
    """Run the plugin on one Cowrie event (or Filebeat document) as a raw document."""
    from cowrie_helpers import Run

    return Run(cowrie)
