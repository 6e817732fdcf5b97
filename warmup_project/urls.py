from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from accounts.api import ConnectViewSet, MailboxViewSet
from accounts.views import callback as oauth_callback
from metrics.api import ControlView, MetricsView, ProcessMetricsView
from metrics.views import dashboard
from warmup.api import DomainViewSet, MailboxPerformanceView, QuotaView
from warmup_project.logins import RefreshView, TokenView, admin_login
from warmup_project.views import SchemaView, healthz

admin.site.site_header = "Warmup operations"
admin.site.site_title = "Warmup"
admin.site.index_title = "Mailboxes, sends and engine"

router = SimpleRouter()
router.register("mailboxes", MailboxViewSet, basename="mailbox")
router.register("domains", DomainViewSet, basename="domain")

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="dashboard"),
    # Before admin.site.urls, whose login page it wraps with the login throttle.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/auth/token/", TokenView.as_view(), name="token"),
    path("api/auth/token/refresh/", RefreshView.as_view(), name="token-refresh"),
    path("api/warmup/control", ControlView.as_view(), name="control"),
    path("api/warmup/quota", QuotaView.as_view(), name="quota"),
    path("api/warmup/mailbox", MailboxPerformanceView.as_view(), name="mailbox-performance"),
    path("api/warmup/metrics", MetricsView.as_view(), name="metrics"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path(
        "api/mailboxes/connect/<str:provider>/",
        ConnectViewSet.as_view({"post": "create"}),
        name="mailbox-connect",
    ),
    path("oauth/<str:provider>/callback", oauth_callback, name="oauth-callback"),
    path("api/", include(router.urls)),
    path("metrics", ProcessMetricsView.as_view(), name="process-metrics"),
]
