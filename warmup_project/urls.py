from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Warmup operations"
admin.site.site_title = "Warmup"
admin.site.index_title = "Mailboxes, sends and engine"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),
]
