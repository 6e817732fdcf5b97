"""The end-to-end tests' OAuth 2.0 / OpenID Connect authorization server: a Django project
of its own on django-oauth-toolkit, run in its own process and database by tests/oauth.py.
Never an app of warmup's settings; nothing here is imported by the test process."""
