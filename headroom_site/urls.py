"""Top-level URLs: the admin, the savings dashboard and the gateway surfaces."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

# The admin carries the product's name, and its "View site" link opens the dashboard: the site
# root belongs to the gateway's API, which answers a browser with a JSON 404.
admin.site.site_header = "Headroom Gateway"
admin.site.site_title = "Headroom Gateway"
admin.site.index_title = "Routes, keys, prices and the request log"
admin.site.site_url = "/dashboard/"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("", include("proxy.urls")),
]

handler400 = "proxy.views.bad_request_error"
handler404 = "proxy.views.not_found"
handler500 = "proxy.views.server_error"
