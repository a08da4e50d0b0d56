"""The connection-scaling experiment (SC4): direct connections, the API's pool, PgBouncer.

One workload (workload.py) is driven at rising concurrency over three paths, paced like
human users (paced.py) and flat out (saturating.py), while the server is watched
(server.py); experiment.py runs the levels and verdict.py judges SC4.
"""
