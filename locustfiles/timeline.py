"""SC3: users following 1000+ accounts reading their home timelines.

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/timeline.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario timeline` do everything.
"""

from lab.swarm.classes import expose

# One Locust user class per persona (ReaderUser, PosterUser, ...), where Locust looks for them.
expose("timeline", globals())
