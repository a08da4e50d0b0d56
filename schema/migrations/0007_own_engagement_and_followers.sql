-- 0007: what is one's own can always be taken back, and an account decides who follows it.
--
-- * Undoing a retweet locks the user first, as every write of a user's tweets does: two
--   undos at once no longer race (one found the retweet the other had just deleted and
--   answered 404); the second now finds nothing and answers "unchanged".
-- * Removing one's own like no longer needs the tweet to be visible: a follower who liked
--   a protected tweet and then lost access could not take the like back.
-- * remove_follower: the owner ends someone's follow (both tables, both counters and the
--   timeline cache, atomically, as unfollow does). A protected account can revoke the
--   access of a follower from its public days; on a public account it is a soft block.
-- * A follow request from oneself cannot exist: deciding one is refused, not answered
--   with "no such user: 1827 or 1827".

CREATE OR REPLACE FUNCTION undo_retweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_retweet bigint;
BEGIN
    -- The same lock delete_tweet and post_tweet take: concurrent undos of one user queue,
    -- and each reads the retweet after the previous one committed.
    PERFORM 1 FROM users WHERE id = p_user FOR NO KEY UPDATE;
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

CREATE OR REPLACE FUNCTION unlike_tweet(p_user bigint, p_tweet bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_target bigint;
BEGIN
    -- A pure retweet stands for its original, as for liking; visibility is not asked:
    -- a like is the user's own, whatever became of the tweet's author since.
    SELECT coalesce(CASE WHEN t.body IS NULL THEN t.original_tweet_id END, t.id)
    INTO v_target FROM tweets AS t WHERE t.id = p_tweet;
    DELETE FROM likes WHERE user_id = p_user AND tweet_id = v_target;
    IF FOUND THEN
        UPDATE tweets SET like_count = like_count - 1 WHERE id = v_target;
        RETURN true;
    END IF;
    -- Nothing to remove: for a tweet the user may not see, the answer a missing one gets.
    PERFORM engagement_target(p_user, p_tweet);
    RETURN false;
END
$$;

CREATE FUNCTION remove_follower(p_owner bigint, p_follower bigint) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF p_owner = p_follower THEN
        RAISE EXCEPTION 'a user does not follow themselves (user %)', p_owner
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lock_user_pair(p_owner, p_follower) < 2 THEN
        RAISE EXCEPTION 'no such user: %', p_follower USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM following
                   WHERE follower_id = p_follower AND followee_id = p_owner) THEN
        RETURN 'not_following';
    END IF;
    PERFORM timeline_after_unfollow(p_follower, p_owner, unfollow(p_follower, p_owner));
    RETURN 'removed';
END
$$;
COMMENT ON FUNCTION remove_follower(bigint, bigint) IS
    'The owner ends a follower''s follow atomically (both tables, counters, cache): removed | not_following.';

CREATE OR REPLACE FUNCTION decide_follow_request(p_owner bigint, p_requester bigint,
                                                 p_approve boolean)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF p_owner = p_requester THEN
        RAISE EXCEPTION 'there is no follow request from yourself: a user cannot follow '
                        'themselves' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lock_user_pair(p_owner, p_requester) < 2 THEN
        RAISE EXCEPTION 'no such user: %', p_requester USING ERRCODE = 'no_data_found';
    END IF;
    DELETE FROM follow_requests WHERE followee_id = p_owner AND follower_id = p_requester;
    IF NOT FOUND THEN
        RETURN 'no_request';
    END IF;
    IF p_approve THEN
        PERFORM add_follow_edge(p_requester, p_owner);
        RETURN 'approved';
    END IF;
    RETURN 'denied';
END
$$;
