"""Where a request goes: admin-managed routes and allowed upstreams, the pure resolver, the routes
file, each worker's cached tables, and the three wire families with their default targets.

Imports nothing of the other apps, and knows nothing about HTTP requests.
"""
