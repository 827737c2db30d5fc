"""Gateway surfaces (SPEC §1): the named surfaces first, then the catch-alls."""

from __future__ import annotations

from django.urls import path, re_path

from proxy import views
from proxy.views import ANTHROPIC, ANTHROPIC_OTHER, BY_HEADERS, GEMINI, OPENAI, gateway_view

GEMINI_METHODS = "generateContent|streamGenerateContent|countTokens|embedContent|batchEmbedContents"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("v1/chat/completions", gateway_view, {"surface": OPENAI}),
    path("v1/completions", gateway_view, {"surface": OPENAI}),
    path("v1/responses", gateway_view, {"surface": OPENAI}),
    path("v1/embeddings", gateway_view, {"surface": OPENAI}),
    path("v1/messages", gateway_view, {"surface": ANTHROPIC}),
    path("v1/messages/count_tokens", gateway_view, {"surface": ANTHROPIC}),
    re_path(r"^v1/messages/(?P<rest>.+)$", gateway_view, {"surface": ANTHROPIC_OTHER}),
    re_path(r"^v1beta/(?P<rest>.*)$", gateway_view, {"surface": GEMINI}),
    # Gemini on its v1 API (google-genai's default): the model is in the path there too.
    re_path(rf"^v1/(?P<rest>models/.+:(?:{GEMINI_METHODS}))$", gateway_view, {"surface": GEMINI}),
    re_path(r"^v1/(?P<rest>.*)$", gateway_view, {"surface": BY_HEADERS}),
]
