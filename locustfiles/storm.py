"""Concurrency storm: writes collide on a dozen hot accounts and one viral tweet.

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/storm.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario storm` do everything.
"""

from lab.swarm.classes import expose

# One Locust user class per persona (ReaderUser, PosterUser, ...), where Locust looks for them.
expose("storm", globals())
