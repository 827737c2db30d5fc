"""Gateway surfaces (SPEC §1): the named surfaces first, then the catch-alls."""

from __future__ import annotations

from django.urls import path, re_path

from proxy import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("v1/chat/completions", views.openai_surface),
    path("v1/completions", views.openai_surface),
    path("v1/responses", views.openai_surface),
    path("v1/embeddings", views.openai_surface),
    path("v1/messages", views.anthropic_surface),
    path("v1/messages/count_tokens", views.anthropic_surface),
    re_path(r"^v1/messages/(?P<rest>.+)$", views.anthropic_other),
    re_path(r"^v1beta/(?P<rest>.*)$", views.gemini_surface),
    re_path(r"^v1/(?P<rest>.*)$", views.catch_all),
]
