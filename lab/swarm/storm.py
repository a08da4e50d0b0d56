"""The storm scenario's actions: everyone on the same few rows at once.

Each action picks its row from a small hot set, so concurrent users toggle
the same follow pairs, like and retweet the same tweet, approve requests
while they are withdrawn, register the same usernames and delete tweets while
others reply to them. Answers a race legitimately produces (404 for a tweet
deleted meanwhile, 409 for a username just taken, 403 for a reply policy)
count as successes; a 5xx is always a failure.
"""

from __future__ import annotations

import random
import uuid

from lab.swarm.recording import option
from lab.swarm.user import LabUser, action

HOT_USERNAMES = 20


def hot_user(user: LabUser) -> int:
    """One of the hot accounts (or a protected owner among them), not the caller."""
    hot = [a["id"] for a in user.accounts("hot") + user.accounts("hot_owners")]
    choices = [h for h in hot if h != user.my_id]
    return random.choice(choices)


@action
def toggle_hot_follow(user: LabUser) -> None:
    method = random.choice(["PUT", "DELETE"])
    # 409: a protected hot owner already has the most requests waiting (the API's cap).
    user.call(method, f"/users/{hot_user(user)}/follow",
              "follow" if method == "PUT" else "unfollow", key="result", allowed=(409,))


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
        user.call("POST", "/tweets", "reply", expect=201, key="tweet", allowed=(403, 404),
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
