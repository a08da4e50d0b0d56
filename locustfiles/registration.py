"""SC1: a steady stream of new accounts; 1000 users register 100 per second.

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/registration.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario registration` do everything.
"""

from lab.swarm.classes import expose

# One Locust user class per persona (ReaderUser, PosterUser, ...), where Locust looks for them.
expose("registration", globals())
