"""SC5: posters at a constant arrival rate; 1000 users post 150 tweets/s.

Personas, weights and pacing live in scenarios.toml. Run alone with
`locust -f locustfiles/posting.py --host http://127.0.0.1:8000` after
`lab credentials`, or let `lab run --scenario posting` do everything.
"""

from common import debug_single_user, users_for

# One Locust user class per persona (ReaderUser, PosterUser, ...), where Locust looks for them.
USERS = users_for("posting", __name__)
globals().update(USERS)

if __name__ == "__main__":
    debug_single_user(USERS)
