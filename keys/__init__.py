"""Gateway keys: the teams' `hr-…` secrets, each worker's cached key table, and the per-key limits
(requests per minute, monthly budget) that admit or refuse a caller.

Imports `routing` (the polled-copy mechanism) and `requestlog` (spend for budgets); never `proxy`
or `dashboard`, and nothing here knows about HTTP requests.
"""
