"""A plugin module that raises while it is imported (a plugin author's bug)."""

import os

plugin = os.environ["CYBEXP_FAKE_KEY_THAT_IS_NEVER_SET"]
