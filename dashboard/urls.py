"""The dashboard's pages under /dashboard/."""

from __future__ import annotations

from django.urls import path

from dashboard.views import export_breakdown, export_rows, index, live

app_name = "dashboard"
urlpatterns = [
    path("", index, name="index"),
    path("live.json", live, name="live"),
    path("export/requests.csv", export_rows, name="export_rows"),
    path("export/<str:dimension>.csv", export_breakdown, name="export_breakdown"),
]
