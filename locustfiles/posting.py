"""SC5: posters at a constant arrival rate; 1000 users post 150 tweets/s.

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/posting.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario posting` do everything.
"""

from lab.swarm.classes import expose

# One Locust user class per persona (ReaderUser, PosterUser, ...), where Locust looks for them.
expose("posting", globals())
