pytest_plugins = ["cybexp_core.testing"]
