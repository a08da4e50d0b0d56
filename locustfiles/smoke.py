"""A quick check of every path: mixed's personas at a brisk pace, with paced sign-ups.

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/smoke.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario smoke` do everything.
"""

from lab.swarm.classes import expose

# One Locust user class per persona (ReaderUser, PosterUser, ...), where Locust looks for them.
expose("smoke", globals())
