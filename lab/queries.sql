-- Every named SQL statement the lab runs against the social graph.
-- One name per operation everywhere: the statement, the API route, the Locust
-- request name, the report row and the EXPLAIN capture share it.
-- Parameters are psycopg named placeholders, cast to their column types:
-- psycopg sends a Python int as the narrowest integer type that holds it,
-- which would otherwise give one prepared statement per id magnitude.
-- Statements named in the API return one row with one JSON value, built here.
-- Keyset pages: rows strictly before (before_ts, before_id) in (created_at, id)
-- order; the first page passes ('infinity', max bigint). Pages are filtered for
-- the viewer before their limit, and a cursor names only a tweet the page returned.

-- name: home_timeline_seed
-- Fan-out on read exactly as the seed writes it: the newest tweets of the
-- accounts the user follows, and the user's own. Kept to measure it against
-- home_timeline_pull (the plans show why it is slower: every followee's whole
-- history is read, then sorted).
SELECT t.id, t.user_id, t.body, t.reply_to_tweet_id, t.original_tweet_id,
       t.like_count, t.retweet_count, t.reply_count, t.created_at
FROM tweets AS t
WHERE t.user_id IN (SELECT f.followee_id FROM following AS f WHERE f.follower_id = %(user_id)s::bigint
                    UNION ALL
                    SELECT %(user_id)s::bigint)
ORDER BY t.created_at DESC, t.id DESC
LIMIT %(limit)s::integer;

-- name: home_timeline_pull
-- Fan-out on read (timeline_pull_ids: the newest `limit` tweets per followee,
-- merged), only what the user may see (home_timeline_ids), as the page JSON.
SELECT page_json(%(user_id)s::bigint, h.ids, %(limit)s::integer), h.resume_ts, h.resume_id,
       NULL::text AS cache
FROM home_timeline_ids(%(user_id)s::bigint, %(before_ts)s::timestamptz, %(before_id)s::bigint,
                       %(limit)s::integer, 'pull') AS h;

-- name: home_timeline_push
-- Fan-out on write: the user's cache above its floor, pulled below it; a closed cache
-- (a reader not active lately) is opened first, or read by pull when too many are being
-- opened, and `cache` says which (a cold read).
SELECT page_json(%(user_id)s::bigint, h.ids, %(limit)s::integer), h.resume_ts, h.resume_id,
       h.cache
FROM open_home_timeline_ids(%(user_id)s::bigint, %(before_ts)s::timestamptz,
                            %(before_id)s::bigint, %(limit)s::integer, 'push') AS h;

-- name: home_timeline_hybrid
-- The cache merged with the tweets of followed celebrities (never fanned out); a closed
-- cache is opened first, as for push.
SELECT page_json(%(user_id)s::bigint, h.ids, %(limit)s::integer), h.resume_ts, h.resume_id,
       h.cache
FROM open_home_timeline_ids(%(user_id)s::bigint, %(before_ts)s::timestamptz,
                            %(before_id)s::bigint, %(limit)s::integer, 'hybrid') AS h;

-- name: user_tweets
-- A user's own tweets, newest first (the seed's timeline index), for a viewer
-- who may see them (visible_account raises 404/403 otherwise); a retweet whose
-- original the viewer may not see is left out before the limit. At most 400
-- candidates are read (lazily: the scan stops at the limit's last visible one);
-- a page short at that bound also returns the 400th, where the next one starts.
WITH page AS (
    SELECT ARRAY(
        SELECT c.id
        FROM (SELECT t.id, t.created_at FROM tweets AS t
              WHERE t.user_id = visible_account(%(viewer_id)s::bigint, %(user_id)s::bigint)
                AND (t.created_at, t.id) < (%(before_ts)s::timestamptz, %(before_id)s::bigint)
              ORDER BY t.created_at DESC, t.id DESC
              LIMIT 400) AS c
        CROSS JOIN LATERAL tweet_visibility(%(viewer_id)s::bigint, c.id) AS v
        WHERE v.visible
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT %(limit)s::integer) AS ids)
SELECT page_json(%(viewer_id)s::bigint, page.ids, %(limit)s::integer), r.created_at, r.id
FROM page LEFT JOIN LATERAL (
    SELECT t.created_at, t.id FROM tweets AS t
    WHERE cardinality(page.ids) < %(limit)s::integer
      AND t.user_id = %(user_id)s::bigint
      AND (t.created_at, t.id) < (%(before_ts)s::timestamptz, %(before_id)s::bigint)
    ORDER BY t.created_at DESC, t.id DESC
    OFFSET 399 LIMIT 1) AS r ON true;

-- name: thread
-- The replies of a tweet, oldest first (tweets_replies_idx), keyset after
-- (after_ts, after_id); replies by accounts the viewer may not see are left out
-- before the limit, and a tweet the viewer may not see has no thread
-- (visible_tweet raises 404). At most 400 candidates are read, as user_tweets.
WITH page AS (
    SELECT ARRAY(
        SELECT c.id
        FROM (SELECT t.id, t.created_at FROM tweets AS t
              WHERE t.reply_to_tweet_id
                    = (visible_tweet(%(viewer_id)s::bigint, %(tweet_id)s::bigint)).id
                AND (t.created_at, t.id) > (%(after_ts)s::timestamptz, %(after_id)s::bigint)
              ORDER BY t.created_at, t.id
              LIMIT 400) AS c
        CROSS JOIN LATERAL tweet_visibility(%(viewer_id)s::bigint, c.id) AS v
        WHERE v.visible
        ORDER BY c.created_at, c.id
        LIMIT %(limit)s::integer) AS ids)
SELECT page_json(%(viewer_id)s::bigint, page.ids, %(limit)s::integer), r.created_at, r.id
FROM page LEFT JOIN LATERAL (
    SELECT t.created_at, t.id FROM tweets AS t
    WHERE cardinality(page.ids) < %(limit)s::integer
      AND t.reply_to_tweet_id = %(tweet_id)s::bigint
      AND (t.created_at, t.id) > (%(after_ts)s::timestamptz, %(after_id)s::bigint)
    ORDER BY t.created_at, t.id
    OFFSET 399 LIMIT 1) AS r ON true;
-- name: get_tweet
-- One tweet, if the viewer may see it (visible_tweet raises no_data_found otherwise),
-- without the ids of tweets it refers to that the viewer may not see.
SELECT tweet_json_for(%(viewer_id)s::bigint,
                      visible_tweet(%(viewer_id)s::bigint, %(tweet_id)s::bigint));

-- name: register_user
-- Create a user and its first API token in one statement.
WITH new_user AS (
    INSERT INTO users (username, email, display_name, bio, is_protected, reply_policy)
    VALUES (%(username)s, %(email)s, %(display_name)s, %(bio)s, %(is_protected)s, %(reply_policy)s)
    RETURNING *
), token AS (
    INSERT INTO api_tokens (token_hash, user_id, expires_at)
    SELECT %(token_hash)s, id, now() + make_interval(secs => %(token_ttl_s)s::double precision) FROM new_user
)
SELECT user_json(new_user) FROM new_user;

-- name: authenticate
-- The user a bearer token belongs to, and until when (tokens are stored as SHA-256 only).
SELECT user_id, expires_at FROM api_tokens
WHERE token_hash = %(token_hash)s AND expires_at > now();

-- name: rotate_token
-- The caller's token exchanged for a new one, in one statement: the old one ends.
WITH old AS (
    DELETE FROM api_tokens
    WHERE token_hash = %(token_hash)s AND user_id = %(user_id)s::bigint AND expires_at > now()
    RETURNING user_id
)
INSERT INTO api_tokens (token_hash, user_id, expires_at)
SELECT %(new_token_hash)s, user_id, now() + make_interval(secs => %(token_ttl_s)s::double precision) FROM old
RETURNING expires_at;

-- name: revoke_token
-- Log out: the caller's token authenticates nobody from now on.
DELETE FROM api_tokens WHERE token_hash = %(token_hash)s AND user_id = %(user_id)s::bigint
RETURNING user_id;

-- name: profile
-- A public profile by id (visible to everyone, protected or not).
SELECT user_json(u) FROM users AS u WHERE u.id = %(user_id)s::bigint;

-- name: profile_by_username
SELECT user_json(u) FROM users AS u WHERE lower(u.username) = lower(%(username)s);

-- name: update_profile
-- Change one's own settings; NULL keeps a field as it is.
UPDATE users SET
    display_name = coalesce(%(display_name)s, display_name),
    bio = coalesce(%(bio)s, bio),
    is_protected = coalesce(%(is_protected)s, is_protected),
    reply_policy = coalesce(%(reply_policy)s, reply_policy)
WHERE id = %(user_id)s::bigint
RETURNING user_json(users);

-- name: approve_all_requests
-- An account that stops being protected accepts the requests waiting for it (at most
-- max_pending_requests), locking itself and every requester in id order first.
SELECT approve_all_requests(%(user_id)s::bigint);

-- name: follow
-- The graph change, then (push, hybrid) the backfill, in one statement.
SELECT timeline_after_follow(%(follower_id)s::bigint, %(followee_id)s::bigint,
                             follow(%(follower_id)s::bigint, %(followee_id)s::bigint));

-- name: unfollow
SELECT timeline_after_unfollow(%(follower_id)s::bigint, %(followee_id)s::bigint,
                               unfollow(%(follower_id)s::bigint, %(followee_id)s::bigint));

-- name: decide_follow_request
SELECT timeline_after_follow(%(requester_id)s::bigint, %(user_id)s::bigint,
                             decide_follow_request(%(user_id)s::bigint, %(requester_id)s::bigint,
                                                   %(approve)s));

-- name: remove_follower
-- The owner ends a follower's follow: both tables, both counters and the cache.
SELECT remove_follower(%(user_id)s::bigint, %(follower_id)s::bigint);

-- name: follow_requests
-- Requests waiting for the user, keyset on the requester's id.
SELECT user_page(ARRAY(
    SELECT r.follower_id FROM follow_requests AS r
    WHERE r.followee_id = %(user_id)s::bigint AND r.follower_id > %(after_id)s::bigint
    ORDER BY r.follower_id LIMIT %(limit)s::integer), %(limit)s::integer);

-- name: followers_page
-- Who follows a user, keyset on the follower's id (followers primary key);
-- a protected account's lists only for itself and approved followers.
SELECT user_page(ARRAY(
    SELECT f.follower_id FROM followers AS f
    WHERE f.followee_id = visible_account(%(viewer_id)s::bigint, %(user_id)s::bigint) AND f.follower_id > %(after_id)s::bigint
    ORDER BY f.follower_id LIMIT %(limit)s::integer), %(limit)s::integer);

-- name: following_page
-- Whom a user follows, keyset on the followee's id (following primary key).
SELECT user_page(ARRAY(
    SELECT f.followee_id FROM following AS f
    WHERE f.follower_id = visible_account(%(viewer_id)s::bigint, %(user_id)s::bigint) AND f.followee_id > %(after_id)s::bigint
    ORDER BY f.followee_id LIMIT %(limit)s::integer), %(limit)s::integer);

-- name: post_tweet
-- Tweet, reply, quote or retweet; returns the tweet and whether it is new.
-- Under push and hybrid the fan-out happens in the same statement (and
-- transaction): when the client hears 201, its followers' caches have it.
SELECT json_build_object('tweet', p.tweet, 'created', p.created), p.created,
       timeline_after_post(p.new_id, p.created) AS delivered
FROM post_tweet(%(user_id)s::bigint, %(body)s, %(reply_to_tweet_id)s::bigint,
                %(original_tweet_id)s::bigint) AS p;

-- name: delete_tweet
SELECT delete_tweet(%(user_id)s::bigint, %(tweet_id)s::bigint);

-- name: undo_retweet
SELECT undo_retweet(%(user_id)s::bigint, %(tweet_id)s::bigint);

-- name: like
SELECT like_tweet(%(user_id)s::bigint, %(tweet_id)s::bigint);

-- name: unlike
SELECT unlike_tweet(%(user_id)s::bigint, %(tweet_id)s::bigint);

-- name: deliver_queued
-- Background fan-out (lab.fanout = queue): deliver a batch of queued tweets.
SELECT tweets, delivered, max_lag_ms FROM deliver_queued(%(batch)s::integer);

-- name: health
SELECT 1;
