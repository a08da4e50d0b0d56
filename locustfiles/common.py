"""The shared base of every scenario: the lab's users, their actions, exact recording.

A scenario file builds its user classes from `scenarios.toml` with
`users_for(...)`; personas differ only in which seeded account they act as
and which actions they take how often. Request names are the API's route
names (`home_timeline`, `post_tweet`, `follow`, ...), the same names as the
SQL statements and the report rows.

Every response is checked (status and body); an answer that is legitimate
in context (a reply refused by the author's reply policy, a random account
that turns out to be protected) counts as a success, anything else as a
failure with a stable reason. Each process also records every request in
the run folder (`--lab-samples`), exactly, for the lab's statistics.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, constant_throughput, events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from lab.load.credentials import read_credentials
from lab.load.samples import SampleRecorder, follow_bucket
from lab.load.scenarios import get_scenario

FLUSH_INTERVAL_S = 2.0
DEFAULT_CREDENTIALS = ".lab/credentials.json"
SOCIALITES_PROTECTED_SHARE = 0.3
FOLLOWS_KEPT = 50

# Which accounts a persona acts as (default: an ordinary seeded user).
ACCOUNTS = {"power_reader": "power_readers", "socialite": "socialite",
            "newcomer": "new", "registrant": "new", "stormer": "hot", "gatekeeper": "hot_owners"}
# The storm scenario crowds everyone onto a few accounts, so requests collide on rows.
HOT_ACCOUNTS = 12
HOT_OWNERS = 3
HOT_USERNAMES = 20


# -- per-process state: credentials and the sample recorder ------------------------


class Process:
    credentials: dict[str, Any] | None = None
    recorder: SampleRecorder | None = None
    flusher: gevent.Greenlet | None = None


def option(environment: Environment, name: str, default: str) -> str:
    """A --lab-* option; run_single_user and library use may have no parsed options."""
    value = getattr(environment.parsed_options, name, None)
    return str(value) if value else default


def credentials(environment: Environment) -> dict[str, Any]:
    """Load the run's credentials once per process, when the first user needs them."""
    if Process.credentials is None:
        path = option(environment, "lab_credentials",
                      os.environ.get("LAB_CREDENTIALS", DEFAULT_CREDENTIALS))
        Process.credentials = read_credentials(Path(path))
    return Process.credentials


@events.init_command_line_parser.add_listener
def _lab_options(parser: Any) -> None:
    parser.add_argument("--lab-credentials", default=os.environ.get("LAB_CREDENTIALS", ""),
                        include_in_web_ui=False,
                        help="JSON file of seeded users' tokens (lab credentials / lab run)")
    parser.add_argument("--lab-samples", default=os.environ.get("LAB_SAMPLES", ""),
                        include_in_web_ui=False,
                        help="Folder where every process records every request (Parquet)")
    parser.add_argument("--lab-test-id", default="", include_in_web_ui=False,
                        help="Set by the master at each test start; workers receive it")


@events.test_start.add_listener
def _start_recording(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    options = environment.parsed_options
    if options is not None and not isinstance(runner, WorkerRunner):
        # The master names the test; workers get the name with their spawn orders.
        options.lab_test_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + \
            "-" + uuid.uuid4().hex[:6]
    if isinstance(runner, MasterRunner):
        return
    random.seed()  # forked workers would otherwise all draw the same accounts
    Process.credentials = None  # a new test may run against a new database
    samples = option(environment, "lab_samples", "")
    if not samples:
        return
    worker = (f"w{runner.worker_index}_{os.getpid()}" if isinstance(runner, WorkerRunner)
              else f"local_{os.getpid()}")
    folder = Path(samples) / option(environment, "lab_test_id", "test")
    Process.recorder = SampleRecorder(folder, worker)

    def flush_periodically() -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            if Process.recorder is not None:
                Process.recorder.flush()

    Process.flusher = gevent.spawn(flush_periodically)


@events.test_stop.add_listener
def _stop_recording(environment: Environment, **_: Any) -> None:
    if Process.flusher is not None:
        Process.flusher.kill()
        Process.flusher = None
    if Process.recorder is not None:
        Process.recorder.close()
        Process.recorder = None


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, response_length: int,
            response: Any = None, exception: Any = None, context: Any = None,
            start_time: float | None = None, **_: Any) -> None:
    recorder = Process.recorder
    if recorder is None:
        return
    context = context or {}
    recorder.record(name, request_type, start_time or time.time() - response_time / 1000,
                    response_time, int(getattr(response, "status_code", 0) or 0),
                    int(response_length or 0), None if exception is None else str(exception),
                    context.get("persona"), context.get("bucket"), context.get("created_id"),
                    context.get("deleted_id"))


# -- the live success-criteria tab in Locust's web UI -------------------------------

LIVE_TAB = "lab-criteria"
LIVE_REFRESH_S = 2.0
LIVE_COLUMNS = [("id", "ID"), ("criterion", "Criterion"), ("status", "Status"),
                ("measured", "Measured"), ("threshold", "Seed threshold"),
                ("target", "Lab target")]
STATUS_MARKS = {"pass": "PASS", "fail": "FAIL"}  # words: emoji fonts are not everywhere


class Live:
    scenario: str | None = None          # set by users_for()
    chunks: dict[Path, Any] = {}
    rows: list[dict[str, str]] = []
    computed_at = 0.0


def live_rows(environment: Environment) -> list[dict[str, str]]:
    """Judge the running test from its recorded samples so far, like `lab run` will."""
    import pandas as pd

    from lab.load import criteria
    from lab.load.evidence import evidence_from, steady_start
    from lab.load.stats import request_stats

    samples_root = option(environment, "lab_samples", "")
    test_id = option(environment, "lab_test_id", "")
    if not samples_root or not test_id or Live.scenario is None:
        return [{"id": "-", "criterion": "start a test (and pass --lab-samples, as lab ui does) "
                 "to see the criteria", "status": "", "measured": "", "threshold": "",
                 "target": ""}]
    folder = Path(samples_root) / test_id
    for chunk in sorted(folder.glob("*.parquet")):
        if chunk not in Live.chunks:
            Live.chunks[chunk] = pd.read_parquet(chunk)
    frames = [frame for path, frame in Live.chunks.items() if path.parent == folder]
    if not frames:
        return []
    samples = pd.concat(frames, ignore_index=True)
    stats = request_stats(samples)
    options = environment.parsed_options
    users = int(getattr(options, "num_users", 0) or 1)
    spawn_rate = float(getattr(options, "spawn_rate", 0) or 1)
    scenario = get_scenario(Live.scenario)
    steady_from = steady_start(samples, users, spawn_rate)
    evidence = evidence_from(samples, stats, [], scenario, users, steady_from, None)
    verdicts = criteria.judge(evidence, scenario.criteria)
    return [{"id": v.id, "criterion": v.title, "status": STATUS_MARKS.get(v.status, v.status),
             "measured": v.measured, "threshold": v.seed,
             "target": v.lab + ("" if v.lab_met is None else " (met)" if v.lab_met
                                else " (missed)")}
            for v in verdicts if v.status != "not in scope"]


@events.init.add_listener
def _live_tab(environment: Environment, **_: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    from flask import request

    web_ui.template_args["extended_tabs"] = [{"title": "Success criteria", "key": LIVE_TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": LIVE_TAB, "structure": [{"key": k, "title": t} for k, t in LIVE_COLUMNS]}]

    @web_ui.app.after_request
    def add_criteria(response: Any) -> Any:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        if time.monotonic() - Live.computed_at > LIVE_REFRESH_S:
            try:
                Live.rows = live_rows(environment)
            except Exception as exc:  # noqa: BLE001 - the live view must never break the UI
                Live.rows = [{"id": "!", "criterion": f"could not judge: {exc}", "status": "",
                              "measured": "", "threshold": "", "target": ""}]
            Live.computed_at = time.monotonic()
        body = response.get_json()
        body["extended_stats"] = [{"key": LIVE_TAB, "data": Live.rows}]
        response.set_data(json.dumps(body))
        return response


# -- the users ---------------------------------------------------------------------

ACTIONS: dict[str, Callable[[LabUser], None]] = {}


def action(function: Callable[[LabUser], None]) -> Callable[[LabUser], None]:
    """Make a method available to scenarios.toml under its own name."""
    ACTIONS[function.__name__] = function
    return function


def created_id(data: dict[str, Any]) -> int | None:
    """The id a 201 body announces: the new tweet's, or the new account's."""
    created = data.get("tweet") or data.get("user") or {}
    return int(created["id"]) if "id" in created else None


class LabUser(FastHttpUser):
    """One simulated person acting as a seeded (or freshly registered) account."""

    abstract = True
    persona = "user"

    def on_start(self) -> None:
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
        return {"persona": self.persona, "bucket": follow_bucket(self.following)}

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
        with self.client.request(method, path, name=name, json=body, headers=headers,
                                 catch_response=True,
                                 context={"deleted_id": deletes}) as response:
            status = response.status_code
            if status == expect:
                try:
                    data = response.json() if response.content else {}
                except ValueError:
                    response.failure(f"{name}: the body is not JSON")
                    return None
                if key is not None and key not in data:
                    response.failure(f"{name}: no {key!r} in the body")
                    return None
                if status == 201:
                    response.request_meta["context"]["created_id"] = created_id(data)
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
                code = f" {response.json().get('code', '')}"
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
            self.call("POST", "/tweets", "post_tweet", expect=201, key="tweet", allowed=(403,),
                      body={"body": self.tweet_text(), "reply_to_tweet_id": seen[0]})

    @action
    def quote(self) -> None:
        seen = self.seen_tweet()
        if seen:  # 403: a protected account's tweets cannot be quoted
            self.call("POST", "/tweets", "post_tweet", expect=201, key="tweet", allowed=(403,),
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


# -- the storm scenario: everyone on the same few rows at once ---------------------
#
# Each action picks its row from a small hot set, so concurrent users toggle
# the same follow pairs, like and retweet the same tweet, approve requests
# while they are withdrawn, register the same usernames and delete tweets while
# others reply to them. Answers a race legitimately produces (404 for a tweet
# deleted meanwhile, 409 for a username just taken, 403 for a reply policy)
# count as successes; a 5xx is always a failure.


def hot_user(user: LabUser) -> int:
    """One of the hot accounts (or a protected owner among them), not the caller."""
    hot = [a["id"] for a in user.accounts("hot") + user.accounts("hot_owners")]
    choices = [h for h in hot if h != user.my_id]
    return random.choice(choices)


@action
def toggle_hot_follow(user: LabUser) -> None:
    method = random.choice(["PUT", "DELETE"])
    user.call(method, f"/users/{hot_user(user)}/follow",
              "follow" if method == "PUT" else "unfollow", key="result")


@action
def toggle_like(user: LabUser) -> None:
    method = random.choice(["PUT", "DELETE"])
    user.call(method, f"/tweets/{user.ids['viral_tweet_id']}/like",
              "like" if method == "PUT" else "unlike", key="changed")


@action
def toggle_retweet(user: LabUser) -> None:
    tweet = user.ids["viral_tweet_id"]
    if random.random() < 0.5:
        user.call("POST", f"/tweets/{tweet}/retweet", "retweet", expect=201, key="tweet",
                  allowed=(200,))
    else:
        user.call("DELETE", f"/tweets/{tweet}/retweet", "undo_retweet", key="changed")


@action
def approve_everyone(user: LabUser) -> None:
    """A protected owner approves each pending request, racing the requesters' withdrawals."""
    page = user.call("GET", "/me/follow-requests", "follow_requests", key="users")
    for requester in (page or {}).get("users", [])[:5]:
        user.call("POST", f"/me/follow-requests/{requester['id']}/approve",
                  "approve_follow_request", key="result")


@action
def engage_hot_tweet(user: LabUser) -> None:
    """Like, retweet or reply to a hot account's newest tweet, which may be deleted meanwhile."""
    page = user.call("GET", f"/users/{hot_user(user)}/tweets?limit=3", "user_tweets",
                     key="tweets", allowed=(403,))
    if not page or not page["tweets"]:
        return
    tweet = random.choice(page["tweets"])["id"]
    kind = random.choice(["like", "retweet", "reply"])
    if kind == "like":
        user.call("PUT", f"/tweets/{tweet}/like", "like", key="changed", allowed=(404,))
    elif kind == "retweet":
        user.call("POST", f"/tweets/{tweet}/retweet", "retweet", expect=201, key="tweet",
                  allowed=(200, 403, 404))
    else:
        user.call("POST", "/tweets", "post_tweet", expect=201, key="tweet", allowed=(403, 404),
                  body={"body": user.tweet_text(), "reply_to_tweet_id": tweet})


@action
def post_then_delete(user: LabUser) -> None:
    """Post, and delete the account's newest tweet (others act as it too: 404 if gone)."""
    user.post_tweet()
    page = user.call("GET", f"/users/{user.me()}/tweets?limit=1", "user_tweets", key="tweets")
    if page and page["tweets"] and random.random() < 0.5:
        tweet = page["tweets"][0]["id"]
        user.call("DELETE", f"/tweets/{tweet}", "delete_tweet", expect=204, allowed=(404,),
                  deletes=tweet)


@action
def register_contested(user: LabUser) -> None:
    """Sign up with one of a few usernames every storm user wants: one wins, the rest get 409."""
    tag = option(user.environment, "lab_test_id", "test")[-6:]
    username = f"s{tag}{random.randrange(HOT_USERNAMES):02d}"
    user.call("POST", "/users", "register_user", expect=201, key="token", allowed=(409,),
              body={"username": username, "email": f"{uuid.uuid4().hex[:12]}@storm.test",
                    "display_name": "Storm"})


def _class_name(persona: str) -> str:
    return "".join(part.title() for part in persona.split("_")) + "User"


def users_for(scenario_name: str, module: str) -> dict[str, type[LabUser]]:
    """Build one Locust user class per persona of the scenario in scenarios.toml."""
    scenario = get_scenario(scenario_name)
    Live.scenario = scenario_name
    classes: dict[str, type[LabUser]] = {}
    for persona in scenario.personas:
        unknown = sorted(set(persona.tasks) - set(ACTIONS))
        if unknown:
            raise ValueError(f"scenarios.toml: {scenario_name}.{persona.name}: unknown actions "
                             f"{', '.join(unknown)}; known: {', '.join(sorted(ACTIONS))}")
        wait = (between(*persona.wait_s) if persona.wait_s
                else constant_throughput(persona.throughput_per_s or 1.0))
        name = _class_name(persona.name)
        classes[name] = type(name, (LabUser,), {
            "__module__": module, "persona": persona.name, "weight": persona.weight,
            "wait_time": wait, "tasks": {ACTIONS[t]: w for t, w in persona.tasks.items()},
            "__doc__": f"The {persona.name} persona of the {scenario_name} scenario."})
    return classes


def debug_single_user(users: dict[str, type[LabUser]]) -> None:
    """Run one user in this process (LAB_PERSONA picks which), for stepping through tasks."""
    from locust import run_single_user

    chosen = os.environ.get("LAB_PERSONA")
    user = users[_class_name(chosen)] if chosen else next(iter(users.values()))
    user.host = os.environ.get("LAB_HOST", "http://127.0.0.1:8000")
    run_single_user(user)
