# The host project's root conftest.py: aigen's fixtures (aigen_app.testing).
pytest_plugins = ["aigen_app.testing"]
