"""The savings engine's compression of tool output: `compress_request` is the whole interface.

    result = compress_request("anthropic", "/v1/messages", body, mode="lossless",
                              min_bytes=512, budget_ms=20)
    forward(result.body); record(result.tokens_before, result.tokens_after, result.reason)

`policy.from_settings(route.compression)` gives the mode, minimum and budget for a route.
"""

from __future__ import annotations

from proxy.compression.engine import CompressionResult, compress_request

__all__ = ["CompressionResult", "compress_request"]
