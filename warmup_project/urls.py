from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Warmup operations"
admin.site.site_title = "Warmup"
admin.site.index_title = "Mailboxes, sends and engine"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),
]
