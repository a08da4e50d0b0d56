-- Every named SQL statement the lab runs against the social graph.
-- One name per operation everywhere: the statement, the API route, the Locust
-- request name, the report row and the EXPLAIN capture share it.
-- Parameters are psycopg named placeholders, cast to their column types:
-- psycopg sends a Python int as the narrowest integer type that holds it,
-- which would otherwise give one prepared statement per id magnitude.

-- name: home_timeline
-- Fan-out on read, as the seed writes it: the newest tweets of the accounts
-- the user follows, and the user's own, newest first. Served by
-- tweets_user_timeline_idx, one index range per followee.
SELECT t.id, t.user_id, t.body, t.reply_to_tweet_id, t.original_tweet_id,
       t.like_count, t.retweet_count, t.reply_count, t.created_at
FROM tweets AS t
WHERE t.user_id IN (SELECT f.followee_id FROM following AS f WHERE f.follower_id = %(user_id)s::bigint
                    UNION ALL
                    SELECT %(user_id)s::bigint)
ORDER BY t.created_at DESC, t.id DESC
LIMIT %(limit)s::integer;

-- name: home_timeline_push
-- Fan-out on write: read the precomputed timeline, newest first.
SELECT t.id, t.user_id, t.body, t.reply_to_tweet_id, t.original_tweet_id,
       t.like_count, t.retweet_count, t.reply_count, t.created_at
FROM home_timeline AS h
JOIN tweets AS t ON t.id = h.tweet_id
WHERE h.user_id = %(user_id)s::bigint
ORDER BY h.created_at DESC, h.tweet_id DESC
LIMIT %(limit)s::integer;

-- name: user_tweets
-- A user's own tweets, newest first (the seed's timeline index).
SELECT t.id, t.body, t.reply_to_tweet_id, t.original_tweet_id, t.like_count,
       t.retweet_count, t.reply_count, t.created_at
FROM tweets AS t
WHERE t.user_id = %(user_id)s::bigint
ORDER BY t.created_at DESC, t.id DESC
LIMIT %(limit)s::integer;

-- name: followers_page
-- Who follows a user, first page (keyset on follower_id).
SELECT f.follower_id, f.created_at
FROM followers AS f
WHERE f.followee_id = %(user_id)s::bigint
ORDER BY f.follower_id
LIMIT %(limit)s::integer;

-- name: following_page
-- Whom a user follows, first page (keyset on followee_id).
SELECT f.followee_id, f.created_at
FROM following AS f
WHERE f.follower_id = %(user_id)s::bigint
ORDER BY f.followee_id
LIMIT %(limit)s::integer;
