"""SC3: users following 1000+ accounts reading their home timelines.

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/timeline.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario timeline` do everything.
"""

from common import debug_single_user, users_for

# One Locust user class per persona (ReaderUser, PosterUser, ...), where Locust looks for them.
USERS = users_for("timeline", __name__)
globals().update(USERS)

if __name__ == "__main__":
    debug_single_user(USERS)
