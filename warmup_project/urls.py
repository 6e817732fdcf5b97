from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from rest_framework.routers import SimpleRouter

from accounts.api import MailboxViewSet
from warmup_project.tokens import RefreshView, TokenView

admin.site.site_header = "Warmup operations"
admin.site.site_title = "Warmup"
admin.site.index_title = "Mailboxes, sends and engine"

router = SimpleRouter()
router.register("mailboxes", MailboxViewSet, basename="mailbox")

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/auth/token/", TokenView.as_view(), name="token"),
    path("api/auth/token/refresh/", RefreshView.as_view(), name="token-refresh"),
    path("api/", include(router.urls)),
    path("", include("django_prometheus.urls")),
]
