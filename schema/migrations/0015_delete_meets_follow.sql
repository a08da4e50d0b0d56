-- 0015: deleting a tweet while its author gains a follower left the follower a timeline
-- entry of the deleted tweet. The follow's backfill read the tweet before the delete
-- committed, and the delete's timeline cleanup ran on a snapshot without the new follower
-- (seen once in a storm run: "home_timeline entries of deleted tweets", 1). remove_tweet
-- now takes its user rows before it removes timeline entries, not at the very end: a follow
-- holds the followee's row (lock_user_pair) through its backfill, so the two serialize.
-- Still tweets before users, so the one lock order of 0010 holds.

CREATE OR REPLACE FUNCTION remove_tweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_tweet tweets;
    v_retweets bigint[];
    v_users bigint[];
BEGIN
    -- Its parent first (the counter below), then the tweet. A parent changes only to
    -- NULL (deleted, detaching this one), so the row read under the lock has either the
    -- parent just locked or none.
    PERFORM 1 FROM tweets
    WHERE id = (SELECT coalesce(t.reply_to_tweet_id, t.original_tweet_id)
                FROM tweets AS t WHERE t.id = p_tweet)
    FOR NO KEY UPDATE;
    SELECT * INTO v_tweet FROM tweets WHERE id = p_tweet AND user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- What hangs off it: pure retweets go (each by its own author's counter), quotes and
    -- replies stay, detached (Twitter shows "this tweet is unavailable").
    SELECT coalesce(array_agg(id ORDER BY id), '{}'), coalesce(array_agg(user_id), '{}')
    INTO v_retweets, v_users
    FROM (SELECT id, user_id FROM tweets WHERE original_tweet_id = p_tweet AND body IS NULL
          ORDER BY id FOR UPDATE) AS r;
    UPDATE tweets SET original_tweet_id = NULL WHERE original_tweet_id = p_tweet AND body IS NOT NULL;
    UPDATE tweets SET reply_to_tweet_id = NULL WHERE reply_to_tweet_id = p_tweet;
    -- Users now, still after every tweet row this takes (the one order, 0010), and before
    -- the timeline entries go: a follow of the author (or of a retweeter) holds that user's
    -- row until it commits, so its backfill is either seen by the deletes below or made
    -- after this commits, when the tweet is gone.
    PERFORM lock_users(v_users || p_user);
    DELETE FROM home_timeline AS h USING tweets AS t, followers AS f
    WHERE t.id = ANY (v_retweets) AND h.tweet_id = t.id AND h.created_at = t.created_at
      AND f.followee_id = t.user_id AND h.user_id = f.follower_id;
    DELETE FROM home_timeline AS h USING tweets AS t
    WHERE t.id = ANY (v_retweets) AND h.user_id = t.user_id AND h.tweet_id = t.id
      AND h.created_at = t.created_at;
    DELETE FROM likes WHERE tweet_id = ANY (v_retweets);
    DELETE FROM tweets WHERE id = ANY (v_retweets);
    -- Counters of what it answered or repeated (locked first, above).
    IF v_tweet.reply_to_tweet_id IS NOT NULL THEN
        UPDATE tweets SET reply_count = reply_count - 1 WHERE id = v_tweet.reply_to_tweet_id;
    ELSIF v_tweet.original_tweet_id IS NOT NULL AND v_tweet.body IS NULL THEN
        UPDATE tweets SET retweet_count = retweet_count - 1 WHERE id = v_tweet.original_tweet_id;
    ELSIF v_tweet.original_tweet_id IS NOT NULL THEN
        UPDATE tweets SET quote_count = quote_count - 1 WHERE id = v_tweet.original_tweet_id;
    END IF;
    DELETE FROM home_timeline WHERE tweet_id = p_tweet AND created_at = v_tweet.created_at
        AND user_id IN (SELECT follower_id FROM followers WHERE followee_id = p_user
                        UNION ALL SELECT p_user);
    DELETE FROM likes WHERE tweet_id = p_tweet;
    DELETE FROM tweets WHERE id = p_tweet;
    -- Their rows were locked above, in id order.
    UPDATE users AS u SET tweet_count = u.tweet_count - gone.n
    FROM (SELECT id, count(*) AS n FROM unnest(v_users || p_user) AS id GROUP BY id) AS gone
    WHERE u.id = gone.id;
    RETURN true;
END
$$;

