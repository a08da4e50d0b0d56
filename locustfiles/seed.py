"""The seed's acceptance run: mixed's personas, broadcasters posting on a schedule (SC5),
then a connection check (SC4): every criterion judged in one report (`make run`).

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/seed.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario seed` do everything.
"""

from lab.swarm.classes import expose

# One Locust user class per persona (ReaderUser, BroadcasterUser, ...), where Locust looks for them.
expose("seed", globals())
