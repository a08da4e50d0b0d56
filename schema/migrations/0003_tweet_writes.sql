-- 0003: who may see what, and the functions that write tweets and engagement.
-- Like 0001's follow functions, each is the single place its operation is
-- written: one call, one transaction, counters exact. Errors carry SQLSTATEs
-- the API maps to HTTP statuses:
--   no_data_found (P0002)          -> 404   the tweet or user does not exist or is not visible
--   insufficient_privilege (42501) -> 403   not allowed (reply policy, protected original, not owner)

CREATE FUNCTION can_see(p_viewer bigint, p_author bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(NOT u.is_protected OR u.id = p_viewer
                    OR EXISTS (SELECT 1 FROM following f
                               WHERE f.follower_id = p_viewer AND f.followee_id = u.id),
                    false)
    FROM users u
    WHERE u.id = p_author
$$;
COMMENT ON FUNCTION can_see(bigint, bigint) IS
    'A protected account''s tweets are visible to itself and approved followers only; NULL viewer = anonymous.';

CREATE FUNCTION visible_account(p_viewer bigint, p_user bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_visible boolean := can_see(p_viewer, p_user);
BEGIN
    IF v_visible IS NULL THEN
        RAISE EXCEPTION 'no such user' USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT v_visible THEN
        RAISE EXCEPTION 'this account is protected: only approved followers see its tweets '
                        'and connections' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN p_user;
END
$$;
COMMENT ON FUNCTION visible_account(bigint, bigint) IS
    'The user id if the viewer may see the account''s tweets and connections; else no_data_found '
    '(unknown user) or insufficient_privilege (protected): checked inside the page statement itself.';

CREATE FUNCTION visible_tweet(p_viewer bigint, p_tweet bigint) RETURNS tweets
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_tweet tweets;
BEGIN
    SELECT * INTO v_tweet FROM tweets WHERE id = p_tweet;
    IF NOT FOUND OR NOT can_see(p_viewer, v_tweet.user_id)
       OR (v_tweet.original_tweet_id IS NOT NULL AND v_tweet.body IS NULL AND NOT can_see(
               p_viewer, (SELECT user_id FROM tweets WHERE id = v_tweet.original_tweet_id))) THEN
        RAISE EXCEPTION 'no such tweet: %', p_tweet USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_tweet;
END
$$;
COMMENT ON FUNCTION visible_tweet(bigint, bigint) IS
    'The tweet if the viewer may see it (a retweet also needs its original visible), else no_data_found: '
    'an invisible tweet is indistinguishable from a missing one.';

CREATE FUNCTION engagement_target(p_user bigint, p_tweet bigint) RETURNS tweets
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_tweet tweets;
BEGIN
    v_tweet := visible_tweet(p_user, p_tweet);
    IF v_tweet.body IS NULL THEN  -- a pure retweet: engage with what it repeats
        v_tweet := visible_tweet(p_user, v_tweet.original_tweet_id);
    END IF;
    RETURN v_tweet;
END
$$;
COMMENT ON FUNCTION engagement_target(bigint, bigint) IS
    'The visible tweet a reply, retweet, quote or like goes to: a retweet stands for its original.';

CREATE FUNCTION post_tweet(p_author bigint, p_body text, p_reply_to bigint, p_original bigint,
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
COMMENT ON FUNCTION post_tweet(bigint, text, bigint, bigint) IS
    'Post a tweet, reply (reply_to), quote (original + body) or retweet (original, no body). '
    'A repeated retweet is idempotent: it returns the existing tweet with created = false.';

CREATE FUNCTION delete_tweet(p_user bigint, p_tweet bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_tweet tweets;
    v_retweet tweets;
BEGIN
    PERFORM 1 FROM users WHERE id = p_user FOR NO KEY UPDATE;
    SELECT * INTO v_tweet FROM tweets WHERE id = p_tweet FOR UPDATE;
    IF NOT FOUND OR NOT can_see(p_user, v_tweet.user_id) THEN
        RAISE EXCEPTION 'no such tweet: %', p_tweet USING ERRCODE = 'no_data_found';
    END IF;
    IF v_tweet.user_id <> p_user THEN
        RAISE EXCEPTION 'only the author may delete tweet %', p_tweet
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Pure retweets of it disappear with it (each by its own author's counter).
    FOR v_retweet IN SELECT * FROM tweets WHERE original_tweet_id = p_tweet AND body IS NULL LOOP
        UPDATE users SET tweet_count = tweet_count - 1 WHERE id = v_retweet.user_id;
        DELETE FROM home_timeline WHERE tweet_id = v_retweet.id AND created_at = v_retweet.created_at
            AND user_id IN (SELECT follower_id FROM followers WHERE followee_id = v_retweet.user_id
                            UNION ALL SELECT v_retweet.user_id);
        DELETE FROM likes WHERE tweet_id = v_retweet.id;
        DELETE FROM tweets WHERE id = v_retweet.id;
    END LOOP;
    -- Quotes and replies stay, detached (Twitter shows "this tweet is unavailable").
    UPDATE tweets SET original_tweet_id = NULL WHERE original_tweet_id = p_tweet;
    UPDATE tweets SET reply_to_tweet_id = NULL WHERE reply_to_tweet_id = p_tweet;
    -- Counters of what it answered or repeated.
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
    UPDATE users SET tweet_count = tweet_count - 1 WHERE id = p_user;
END
$$;
COMMENT ON FUNCTION delete_tweet(bigint, bigint) IS
    'Delete own tweet with its pure retweets, likes and timeline entries; quotes and replies are detached.';

CREATE FUNCTION like_tweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_tweet tweets;
BEGIN
    v_tweet := engagement_target(p_user, p_tweet);
    INSERT INTO likes (user_id, tweet_id) VALUES (p_user, v_tweet.id) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE tweets SET like_count = like_count + 1 WHERE id = v_tweet.id;
    RETURN true;
END
$$;
COMMENT ON FUNCTION like_tweet(bigint, bigint) IS 'Like (idempotent): true if a new like was recorded.';

CREATE FUNCTION unlike_tweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_tweet tweets;
BEGIN
    v_tweet := engagement_target(p_user, p_tweet);
    DELETE FROM likes WHERE user_id = p_user AND tweet_id = v_tweet.id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE tweets SET like_count = like_count - 1 WHERE id = v_tweet.id;
    RETURN true;
END
$$;
COMMENT ON FUNCTION unlike_tweet(bigint, bigint) IS 'Unlike (idempotent): true if a like was removed.';

CREATE FUNCTION undo_retweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_retweet bigint;
BEGIN
    SELECT id INTO v_retweet FROM tweets
    WHERE user_id = p_user AND body IS NULL
      AND original_tweet_id = coalesce((SELECT original_tweet_id FROM tweets
                                        WHERE id = p_tweet AND body IS NULL), p_tweet);
    IF v_retweet IS NULL THEN
        RETURN false;
    END IF;
    PERFORM delete_tweet(p_user, v_retweet);
    RETURN true;
END
$$;
COMMENT ON FUNCTION undo_retweet(bigint, bigint) IS
    'Remove the user''s retweet of a tweet (idempotent): true if one was removed.';
