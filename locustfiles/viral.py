"""The hot row: fans liking and unliking one viral tweet while others read it.

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/viral.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario viral` do everything.
"""

from lab.swarm.classes import expose

# One Locust user class per persona (ReaderUser, PosterUser, ...), where Locust looks for them.
expose("viral", globals())
