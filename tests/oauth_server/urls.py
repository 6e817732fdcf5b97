from django.contrib.auth.views import LoginView
from django.urls import include, path

from tests.oauth_server.views import CountingTokenView, MailboxIntrospectTokenView

urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    # Ahead of DOT's own: its introspection plus app-only tokens' mailboxes (views.py).
    path("o/introspect/", MailboxIntrospectTokenView.as_view(), name="introspect"),
    path("o/token/", CountingTokenView.as_view(), name="token"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
