"""LabUser: one simulated person acting as a seeded (or new) account, and what it can do.

Personas (scenarios.toml) differ only in which accounts they act as and
which actions they take how often. Request names are the API's route names
(`home_timeline`, `post_tweet`, `follow`, ...), the same names as the SQL
statements and the report rows; replies and quotes go to `post_tweet`'s route
under names of their own (`reply`, `quote`), so a refused reply is never
counted as a post.

Every response is checked (status and body); an answer that is legitimate
in context (a reply refused by the author's reply policy, a random account
that turns out to be protected) counts as a success, anything else as a
failure with a stable reason.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from locust import FastHttpUser

from lab.api.headers import TIMELINE_CACHE
from lab.load.samples import follow_bucket
from lab.swarm.recording import credentials

SOCIALITES_PROTECTED_SHARE = 0.3
FOLLOWS_KEPT = 50

# Which accounts a persona acts as (default: an ordinary seeded user).
ACCOUNTS = {"power_reader": "power_readers", "socialite": "socialite",
            "newcomer": "new", "registrant": "new", "stormer": "hot", "gatekeeper": "hot_owners"}
# The storm scenario crowds everyone onto a few accounts, so requests collide on rows.
HOT_ACCOUNTS = 12
HOT_OWNERS = 3
# A home-timeline read of the reader's closed cache (opened by it, or read by pull): its
# own request name, so a cold read's cost is reported beside the warm reads SC3 judges.
COLD_READ = "home_timeline_cold"


ACTIONS: dict[str, Callable[[LabUser], None]] = {}


def action(function: Callable[[LabUser], None]) -> Callable[[LabUser], None]:
    """Make a method available to scenarios.toml under its own name."""
    ACTIONS[function.__name__] = function
    return function


def body_json(content: bytes | None) -> dict[str, Any]:
    """Parse a response body with orjson: on a 50-tweet page (20 kB), the generator's
    costliest parse, it takes a third of the time of the json module response.json() uses."""
    return orjson.loads(content) if content else {}


def created_id(data: dict[str, Any]) -> int | None:
    """The id a 201 body announces: the new tweet's, or the new account's."""
    created = data.get("tweet") or data.get("user") or {}
    return int(created["id"]) if "id" in created else None


class LabUser(FastHttpUser):
    """One simulated person acting as a seeded (or freshly registered) account."""

    abstract = True
    persona = "user"
    paced = False                    # on a schedule (lab.swarm.pacing), not a think time
    due_ts: float | None = None      # a paced user's current action's due time
    answered_ts: float | None = None  # when its last answer arrived

    def on_start(self) -> None:
        self.arrive()
        if self.paced:
            # Its schedule starts once it has arrived: an arrival's sign-up is not one of
            # its scheduled actions (a --shape's new users would count twice otherwise).
            self.due_ts = time.time()

    def arrive(self) -> None:
        """Become the account this persona acts as: a seeded one, or a new sign-up."""
        self.ids = credentials(self.environment)
        self.token = ""
        self.following: int | None = None
        self.seen: list[tuple[int, int]] = []       # (tweet id, author id) from pages read
        self.cursor: str | None = None
        self.followed: list[int] = []
        self.requesters: list[int] = []
        self.my_id: int | None = None
        kind = ACCOUNTS.get(self.persona, "users")
        if kind == "new":
            self.register_user()
            return
        if kind == "socialite":
            kind = ("protected_owners" if random.random() < SOCIALITES_PROTECTED_SHARE
                    and self.ids["protected_owners"] else "users")
        account = random.choice(self.accounts(kind))
        self.my_id = account["id"]
        self.become(account["token"], account.get("following", 0))

    def accounts(self, kind: str) -> list[dict[str, Any]]:
        """The credentials a kind of persona draws from (storm kinds: a few hot ones)."""
        if kind == "hot":
            return self.ids["users"][:HOT_ACCOUNTS]
        if kind == "hot_owners":
            return self.ids["protected_owners"][:HOT_OWNERS] or self.accounts("hot")
        return self.ids[kind]

    def become(self, token: str, following: int) -> None:
        self.token = token
        self.following = following

    def context(self) -> dict[str, Any]:
        """What the request's record carries; for a paced user, its lag behind the schedule
        and the part of it spent waiting for its own previous answer (the target's doing:
        a user waits for each answer before it acts again)."""
        lag = wait = None
        if self.due_ts is not None:
            now = time.time()
            lag = round((now - self.due_ts) * 1000, 3)
            answered = self.answered_ts if self.answered_ts is not None else self.due_ts
            wait = round(max(0.0, min(now, answered) - self.due_ts) * 1000, 3)
        return {"persona": self.persona, "bucket": follow_bucket(self.following),
                "schedule_lag_ms": lag, "schedule_wait_ms": wait}

    # -- one checked request -------------------------------------------------------

    def call(self, method: str, path: str, name: str, *, expect: int = 200,
             allowed: tuple[int, ...] = (), body: dict[str, Any] | None = None,
             key: str | None = None, deletes: int | None = None) -> dict[str, Any] | None:
        """Send a request and check it; return its JSON when it was the expected answer.

        `allowed` statuses are legitimate in context: a success, but no data.
        A 201's new id (and the tweet a delete names, `deletes`) goes into the
        request's record: the ledger of acknowledged writes a run verifies.
        """
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            return self._checked(method, path, name, expect, allowed, body, key, deletes,
                                 headers)
        finally:
            self.answered_ts = time.time()

    def _checked(self, method: str, path: str, name: str, expect: int,
                 allowed: tuple[int, ...], body: dict[str, Any] | None, key: str | None,
                 deletes: int | None, headers: dict[str, str]) -> dict[str, Any] | None:
        with self.client.request(method, path, name=name, json=body, headers=headers,
                                 catch_response=True,
                                 context={"deleted_id": deletes}) as response:
            status = response.status_code
            if status == expect:
                try:
                    data = body_json(response.content)
                except ValueError:
                    response.failure(f"{name}: the body is not JSON")
                    return None
                if key is not None and key not in data:
                    response.failure(f"{name}: no {key!r} in the body")
                    return None
                if status == 201:
                    response.request_meta["context"]["created_id"] = created_id(data)
                if response.headers.get(TIMELINE_CACHE) in ("opened", "closed"):
                    response.request_meta["name"] = COLD_READ
                response.success()
                return data
            if status in allowed:
                response.success()
                return None
            if not status:
                response.failure(f"{name}: no response ({type(response.error).__name__})")
                return None
            code = ""
            with contextlib.suppress(ValueError, AttributeError):
                code = f" {body_json(response.content).get('code', '')}"
            response.failure(f"{name}: HTTP {status}{code}")
            return None

    # -- what the actions act on ------------------------------------------------------

    def random_user(self) -> int:
        """A random seeded account other than the caller's own."""
        while True:
            user = random.randint(1, self.ids["seeded_users"])
            if user != self.my_id:
                return user

    def remember(self, page: dict[str, Any] | None) -> None:
        if page:
            self.seen = [(t["id"], t["user_id"]) for t in page["tweets"]] or self.seen
            self.cursor = page.get("next_cursor")

    def seen_tweet(self) -> tuple[int, int] | None:
        if not self.seen:
            self.home_timeline()
        return random.choice(self.seen) if self.seen else None

    def tweet_text(self) -> str:
        return f"load test {uuid.uuid4().hex[:12]} at {time.time():.3f}"

    # -- reading -----------------------------------------------------------------------

    @action
    def home_timeline(self) -> None:
        self.remember(self.call("GET", "/timeline/home", "home_timeline", key="tweets"))

    @action
    def home_timeline_next_page(self) -> None:
        if not self.cursor:
            return self.home_timeline()
        self.remember(self.call("GET", f"/timeline/home?cursor={self.cursor}", "home_timeline",
                                key="tweets"))

    @action
    def profile(self) -> None:
        seen = self.seen_tweet()
        user = seen[1] if seen else self.random_user()
        self.call("GET", f"/users/{user}", "profile", key="id")

    @action
    def user_tweets(self) -> None:
        seen = self.seen_tweet()
        if seen:
            self.call("GET", f"/users/{seen[1]}/tweets?limit=20", "user_tweets", key="tweets")
        else:  # a random account may be protected: 403 is the right answer then
            self.call("GET", f"/users/{self.random_user()}/tweets?limit=20", "user_tweets",
                      key="tweets", allowed=(403,))

    @action
    def thread(self) -> None:
        seen = self.seen_tweet()
        if seen:
            self.call("GET", f"/tweets/{seen[0]}/replies?limit=20", "thread", key="tweets")

    @action
    def get_tweet(self) -> None:
        self.call("GET", f"/tweets/{self.ids['viral_tweet_id']}", "get_tweet", key="id")

    # -- writing ---------------------------------------------------------------------

    @action
    def post_tweet(self) -> None:
        self.call("POST", "/tweets", "post_tweet", expect=201, key="tweet",
                  body={"body": self.tweet_text()})

    @action
    def reply(self) -> None:
        seen = self.seen_tweet()
        if seen:  # 403: the author lets only accounts they follow reply
            self.call("POST", "/tweets", "reply", expect=201, key="tweet", allowed=(403,),
                      body={"body": self.tweet_text(), "reply_to_tweet_id": seen[0]})

    @action
    def quote(self) -> None:
        seen = self.seen_tweet()
        if seen:  # 403: a protected account's tweets cannot be quoted
            self.call("POST", "/tweets", "quote", expect=201, key="tweet", allowed=(403,),
                      body={"body": self.tweet_text(), "quote_tweet_id": seen[0]})

    @action
    def retweet(self) -> None:
        seen = self.seen_tweet()
        if seen:  # 200: already retweeted (idempotent); 403: protected
            self.call("POST", f"/tweets/{seen[0]}/retweet", "retweet", expect=201, key="tweet",
                      allowed=(200, 403))

    @action
    def like(self) -> None:
        self.call("PUT", f"/tweets/{self.ids['viral_tweet_id']}/like", "like", key="changed")

    @action
    def unlike(self) -> None:
        self.call("DELETE", f"/tweets/{self.ids['viral_tweet_id']}/like", "unlike",
                  key="changed")

    # -- the graph -------------------------------------------------------------------

    def follow_user(self, user: int) -> None:
        if self.call("PUT", f"/users/{user}/follow", "follow", key="result") is not None:
            self.followed = [*self.followed[-FOLLOWS_KEPT:], user]

    @action
    def follow(self) -> None:
        self.follow_user(self.random_user())

    @action
    def follow_popular(self) -> None:
        self.follow_user(random.choice(self.ids["popular"]))

    @action
    def unfollow(self) -> None:
        user = self.followed.pop() if self.followed else self.random_user()
        self.call("DELETE", f"/users/{user}/follow", "unfollow", key="result")

    @action
    def follow_requests(self) -> None:
        page = self.call("GET", "/me/follow-requests", "follow_requests", key="users")
        if page:
            self.requesters = [u["id"] for u in page["users"]]

    @action
    def approve_follow_request(self) -> None:
        if not self.requesters:
            return self.follow_requests()
        requester = self.requesters.pop()
        self.call("POST", f"/me/follow-requests/{requester}/approve", "approve_follow_request",
                  key="result")

    @action
    def followers_page(self) -> None:
        self.call("GET", f"/users/{self.me()}/followers?limit=20", "followers_page", key="users")

    @action
    def following_page(self) -> None:
        self.call("GET", f"/users/{self.me()}/following?limit=20", "following_page", key="users")

    def me(self) -> int:
        assert self.my_id is not None
        return self.my_id

    # -- accounts ----------------------------------------------------------------------

    @action
    def register_user(self) -> None:
        """Sign up as a new person; the user then acts as that account."""
        username = f"n{uuid.uuid4().hex[:14]}"
        data = self.call("POST", "/users", "register_user", expect=201, key="token",
                         body={"username": username, "email": f"{username}@load.test",
                               "display_name": "Load Tester"})
        if data:
            self.become(data["token"], 0)
            self.my_id = data["user"]["id"]
            self.seen, self.cursor, self.followed = [], None, []
