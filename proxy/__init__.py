"""The hot path: parse (`inbound`) → admit (`admit`) → resolve and forward (`forward`,
`credentials`, `egress`, `upstream`) → respond (`respond`, `relay`), then `record` hands the
finished exchange to the request log. Wire formats in `proxy.wire`, savings in `proxy.compression`.

Imports `routing`, `keys` and `requestlog`; nothing of ours imports `proxy` but the site.
"""
