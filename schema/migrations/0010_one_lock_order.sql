-- 0010: one lock order for every write that touches tweets, so concurrent writes queue
-- instead of deadlocking (issue 27: five authors who retweeted each other deleting at
-- once ended in 503s after 5 s; an author deleting a tweet while its retweeters undid,
-- its repliers deleted and its quoters deleted cost 1-3 s a request in retried deadlocks).
--
-- The order, for every function below:
--   1. a tweet before what hangs off it: the tweet a reply, quote, retweet or like points
--      at is locked (FOR NO KEY UPDATE, the lock its counter update takes anyway) before
--      the reply, quote, retweet or like itself; deleting a tweet locks its parent first,
--      then the tweet, then its retweets, quotes, replies and likes;
--   2. user rows last, all of a transaction's at once, in id order (lock_users), as
--      lock_user_pair already does for the follow graph.
-- Before, post_tweet and delete_tweet locked their user first: a delete then locked its
-- tweet and afterwards its retweeters' rows, while a retweet held its author and waited
-- for the tweet; unlike locked the like before the tweet, delete_tweet the other way.
--
-- Engagement with a tweet one may no longer see (a follower who lost access): one's own
-- like or retweet is still removed, and the answer is the one a missing tweet gets
-- (unlike: 404; undo: unchanged), so it tells nothing about the tweet (README, security
-- notes). Deleting a tweet one may not see is a 404, never "only the author may".

CREATE FUNCTION lock_users(p_ids bigint[]) RETURNS integer
LANGUAGE sql AS $$
    WITH locked AS (
        SELECT id FROM users WHERE id = ANY (p_ids) ORDER BY id FOR NO KEY UPDATE
    )
    SELECT count(*)::integer FROM locked
$$;
COMMENT ON FUNCTION lock_users(bigint[]) IS
    'Lock user rows in id order, the last locks of any write (deadlock-free); return how many exist.';

CREATE FUNCTION engaged_tweet_id(p_tweet bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.body IS NULL THEN t.original_tweet_id ELSE t.id END
    FROM tweets AS t WHERE t.id = p_tweet
$$;
COMMENT ON FUNCTION engaged_tweet_id(bigint) IS
    'The tweet a reply, retweet, quote or like of p_tweet goes to (a pure retweet stands for its '
    'original), visible or not; NULL when there is none.';

CREATE FUNCTION lock_engaged(p_user bigint, p_tweet bigint) RETURNS tweets
LANGUAGE plpgsql AS $$
DECLARE
    v_tweet tweets;
BEGIN
    -- Locked before the visibility check, so the check reads the row as it will stay.
    PERFORM 1 FROM tweets WHERE id = engaged_tweet_id(p_tweet) FOR NO KEY UPDATE;
    v_tweet := engagement_target(p_user, p_tweet);
    RETURN v_tweet;
END
$$;
COMMENT ON FUNCTION lock_engaged(bigint, bigint) IS
    'Lock the tweet an engagement with p_tweet goes to, then return it if p_user may see it '
    '(else no_data_found): the first lock of a reply, quote, retweet or like.';

DROP FUNCTION hold_tweet(bigint);

CREATE OR REPLACE FUNCTION post_tweet(p_author bigint, p_body text, p_reply_to bigint,
                                      p_original bigint,
                                      OUT new_id bigint, OUT created boolean, OUT tweet json)
LANGUAGE plpgsql AS $$
DECLARE
    v_target tweets;
    v_target_author users;
BEGIN
    created := true;
    IF p_reply_to IS NOT NULL AND p_original IS NOT NULL THEN
        RAISE EXCEPTION 'a tweet is a reply or a quote, not both: give reply_to_tweet_id or '
                        'quote_tweet_id' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = p_author) THEN
        RAISE EXCEPTION 'no such user: %', p_author USING ERRCODE = 'no_data_found';
    END IF;
    IF p_reply_to IS NOT NULL THEN
        v_target := lock_engaged(p_author, p_reply_to);
        SELECT * INTO v_target_author FROM users WHERE id = v_target.user_id;
        IF v_target_author.reply_policy = 'following' AND v_target_author.id <> p_author
           AND NOT EXISTS (SELECT 1 FROM following WHERE follower_id = v_target_author.id
                                                     AND followee_id = p_author) THEN
            RAISE EXCEPTION 'user % only accepts replies from accounts they follow', v_target_author.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO tweets (user_id, body, reply_to_tweet_id) VALUES (p_author, p_body, v_target.id)
        RETURNING id INTO new_id;
        UPDATE tweets SET reply_count = reply_count + 1 WHERE id = v_target.id;
    ELSIF p_original IS NOT NULL THEN
        v_target := lock_engaged(p_author, p_original);
        IF (SELECT is_protected FROM users WHERE id = v_target.user_id) THEN
            RAISE EXCEPTION 'tweets of protected accounts cannot be retweeted or quoted'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF p_body IS NULL THEN
            INSERT INTO tweets (user_id, original_tweet_id) VALUES (p_author, v_target.id)
            ON CONFLICT (user_id, original_tweet_id) WHERE body IS NULL DO NOTHING
            RETURNING id INTO new_id;
            IF new_id IS NULL THEN  -- already retweeted: idempotent, return the existing one
                SELECT id INTO new_id FROM tweets
                WHERE user_id = p_author AND original_tweet_id = v_target.id AND body IS NULL;
                created := false;
                SELECT tweet_json(t) INTO tweet FROM tweets AS t WHERE t.id = new_id;
                RETURN;
            END IF;
            UPDATE tweets SET retweet_count = retweet_count + 1 WHERE id = v_target.id;
        ELSE
            INSERT INTO tweets (user_id, body, original_tweet_id) VALUES (p_author, p_body, v_target.id)
            RETURNING id INTO new_id;
            UPDATE tweets SET quote_count = quote_count + 1 WHERE id = v_target.id;
        END IF;
    ELSE
        INSERT INTO tweets (user_id, body) VALUES (p_author, p_body) RETURNING id INTO new_id;
    END IF;
    PERFORM lock_users(ARRAY[p_author]);
    UPDATE users SET tweet_count = tweet_count + 1 WHERE id = p_author;
    -- Built here: a query calling this function cannot see the new row itself
    -- (its snapshot predates the insert).
    SELECT tweet_json(t) INTO tweet FROM tweets AS t WHERE t.id = new_id;
END
$$;

CREATE FUNCTION remove_tweet(p_user bigint, p_tweet bigint) RETURNS boolean
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
    -- Users last, in id order: the author and every retweeter whose retweet went.
    PERFORM lock_users(v_users || p_user);
    UPDATE users AS u SET tweet_count = u.tweet_count - gone.n
    FROM (SELECT id, count(*) AS n FROM unnest(v_users || p_user) AS id GROUP BY id) AS gone
    WHERE u.id = gone.id;
    RETURN true;
END
$$;
COMMENT ON FUNCTION remove_tweet(bigint, bigint) IS
    'Delete p_user''s own tweet with its pure retweets, likes and timeline entries, detaching '
    'quotes and replies, in the one lock order (0010); false if it is not (or no longer) there.';

CREATE OR REPLACE FUNCTION delete_tweet(p_user bigint, p_tweet bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_author bigint;
BEGIN
    SELECT user_id INTO v_author FROM tweets WHERE id = p_tweet;
    -- One's own tweet is known to its author; anyone else's must be visible to be told
    -- apart from a missing one.
    IF NOT FOUND OR (v_author <> p_user AND NOT tweet_id_visible(p_user, p_tweet)) THEN
        RAISE EXCEPTION 'no such tweet: %', p_tweet USING ERRCODE = 'no_data_found';
    END IF;
    IF v_author <> p_user THEN
        RAISE EXCEPTION 'only the author may delete tweet %', p_tweet
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT remove_tweet(p_user, p_tweet) THEN  -- deleted meanwhile
        RAISE EXCEPTION 'no such tweet: %', p_tweet USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION like_tweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_tweet tweets;
BEGIN
    v_tweet := lock_engaged(p_user, p_tweet);
    INSERT INTO likes (user_id, tweet_id) VALUES (p_user, v_tweet.id) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE tweets SET like_count = like_count + 1 WHERE id = v_tweet.id;
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION unlike_tweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_target bigint := engaged_tweet_id(p_tweet);
    v_removed boolean;
BEGIN
    PERFORM 1 FROM tweets WHERE id = v_target FOR NO KEY UPDATE;
    DELETE FROM likes WHERE user_id = p_user AND tweet_id = v_target;
    v_removed := FOUND;
    IF v_removed THEN
        UPDATE tweets SET like_count = like_count - 1 WHERE id = v_target;
    END IF;
    -- A tweet the user may not see answers as a missing one (NULL: the API's 404), its
    -- like removed all the same: a missing tweet's likes are gone too.
    IF v_target IS NULL OR NOT tweet_id_visible(p_user, p_tweet) THEN
        RETURN NULL;
    END IF;
    RETURN v_removed;
END
$$;
COMMENT ON FUNCTION unlike_tweet(bigint, bigint) IS
    'Unlike (idempotent): true if a like was removed, NULL (answered as missing) for a tweet '
    'the user may not see, whose like is removed all the same.';

CREATE OR REPLACE FUNCTION undo_retweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_retweet bigint;
    v_visible boolean := tweet_id_visible(p_user, p_tweet);  -- read before p_tweet may go
BEGIN
    SELECT id INTO v_retweet FROM tweets
    WHERE user_id = p_user AND body IS NULL AND original_tweet_id = engaged_tweet_id(p_tweet);
    IF v_retweet IS NULL THEN
        RETURN false;
    END IF;
    -- Two undos at once both lock the original first (remove_tweet): the second then finds
    -- its retweet gone and answers "unchanged".
    -- A missing tweet answers "unchanged"; one the user may not see answers the same.
    RETURN remove_tweet(p_user, v_retweet) AND v_visible;
END
$$;
COMMENT ON FUNCTION undo_retweet(bigint, bigint) IS
    'Remove the user''s retweet of a tweet (idempotent): true if one was removed from a tweet '
    'the user may see; removed, but answered unchanged, for one the user may not.';
