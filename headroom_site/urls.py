"""Top-level URLs: the admin, the savings dashboard and the gateway surfaces."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("", include("proxy.urls")),
]

handler400 = "proxy.views.bad_request_error"
handler404 = "proxy.views.not_found"
handler500 = "proxy.views.server_error"
