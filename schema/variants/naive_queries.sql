-- The statements a beginner writes against schema/variants/naive.sql, one per
-- read the lab compares with the real schema (`lab explain --compare-naive`).
-- Same names and parameters as lab/queries.sql; plain rows, no JSON, so the
-- comparison is about the data layout and indexes, not about serialization.

-- name: home_timeline
-- The seed's fan-out on read over the single follows table.
SELECT t.id, t.user_id, t.body, t.created_at,
       (SELECT count(*) FROM likes AS l WHERE l.tweet_id = t.id) AS like_count
FROM tweets AS t
WHERE t.user_id IN (SELECT f.followee_id FROM follows AS f WHERE f.follower_id = %(user_id)s
                    UNION ALL SELECT %(user_id)s)
ORDER BY t.created_at DESC
LIMIT %(limit)s;

-- name: user_tweets
-- Only tweets(user_id) is indexed: every tweet of the author is read, then sorted.
SELECT t.id, t.body, t.created_at FROM tweets AS t
WHERE t.user_id = %(user_id)s
ORDER BY t.created_at DESC
LIMIT %(limit)s;

-- name: followers_page
-- The primary key starts with follower_id, so "who follows B" has no index.
SELECT u.id, u.username, u.display_name FROM follows AS f JOIN users AS u ON u.id = f.follower_id
WHERE f.followee_id = %(user_id)s
ORDER BY f.follower_id
LIMIT %(limit)s;

-- name: following_page
SELECT u.id, u.username, u.display_name FROM follows AS f JOIN users AS u ON u.id = f.followee_id
WHERE f.follower_id = %(user_id)s
ORDER BY f.followee_id
LIMIT %(limit)s;

-- name: profile
-- No stored counters: every profile view counts the graph and the tweets.
SELECT u.*,
       (SELECT count(*) FROM follows AS f WHERE f.followee_id = u.id) AS followers_count,
       (SELECT count(*) FROM follows AS f WHERE f.follower_id = u.id) AS following_count,
       (SELECT count(*) FROM tweets AS t WHERE t.user_id = u.id) AS tweet_count
FROM users AS u WHERE u.id = %(user_id)s;

-- name: get_tweet
-- Engagement counts computed per view (likes has no index on tweet_id).
SELECT t.*,
       (SELECT count(*) FROM likes AS l WHERE l.tweet_id = t.id) AS like_count,
       (SELECT count(*) FROM tweets AS r WHERE r.original_tweet_id = t.id) AS retweet_count,
       (SELECT count(*) FROM tweets AS r WHERE r.reply_to_tweet_id = t.id) AS reply_count
FROM tweets AS t WHERE t.id = %(tweet_id)s;
