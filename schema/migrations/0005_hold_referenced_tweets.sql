-- 0005: writes that reference a tweet hold it until they commit.
--
-- A like, reply, quote or retweet reads its target tweet, then inserts a row
-- pointing at it. A delete_tweet committing in between left the insert to its
-- foreign key check, which failed: a 500 for the client (found by the storm
-- tests, tests/api/test_storms.py: 10 fans liking, retweeting and replying to
-- a tweet while its author deletes it). Now the writer takes the tweet's key
-- share lock itself, the lock the foreign key would take: either it comes
-- first and delete_tweet (FOR UPDATE) waits and removes what it added, or the
-- delete comes first and the writer finds no tweet, a 404 like any other.

CREATE FUNCTION hold_tweet(p_tweet bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM tweets WHERE id = p_tweet FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such tweet: %', p_tweet USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
COMMENT ON FUNCTION hold_tweet(bigint) IS
    'Keep a tweet from being deleted until this transaction ends (no_data_found if it already was).';

CREATE OR REPLACE FUNCTION post_tweet(p_author bigint, p_body text, p_reply_to bigint, p_original bigint,
                           OUT new_id bigint, OUT created boolean, OUT tweet json)
LANGUAGE plpgsql AS $$
DECLARE
    v_target tweets;
    v_target_author users;
BEGIN
    created := true;
    PERFORM 1 FROM users WHERE id = p_author FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such user: %', p_author USING ERRCODE = 'no_data_found';
    END IF;
    IF p_reply_to IS NOT NULL THEN
        v_target := engagement_target(p_author, p_reply_to);
        PERFORM hold_tweet(v_target.id);
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
        v_target := engagement_target(p_author, p_original);
        PERFORM hold_tweet(v_target.id);
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
    UPDATE users SET tweet_count = tweet_count + 1 WHERE id = p_author;
    -- Built here: a query calling this function cannot see the new row itself
    -- (its snapshot predates the insert).
    SELECT tweet_json(t) INTO tweet FROM tweets AS t WHERE t.id = new_id;
END
$$;

CREATE OR REPLACE FUNCTION like_tweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_tweet tweets;
BEGIN
    v_tweet := engagement_target(p_user, p_tweet);
    PERFORM hold_tweet(v_tweet.id);
    INSERT INTO likes (user_id, tweet_id) VALUES (p_user, v_tweet.id) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE tweets SET like_count = like_count + 1 WHERE id = v_tweet.id;
    RETURN true;
END
$$;
