"""The savings dashboard: stats read from the request log's rollup as small dataclasses, charts,
display strings, the live feed and the views.

Imports `requestlog` only; nothing imports the dashboard.
"""
