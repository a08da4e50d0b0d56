"""The default scenario: every persona at a human pace (an action every 1-5 s).

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/mixed.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario mixed` do everything.
"""

from lab.swarm.classes import expose

# One Locust user class per persona (ReaderUser, PosterUser, ...), where Locust looks for them.
expose("mixed", globals())
