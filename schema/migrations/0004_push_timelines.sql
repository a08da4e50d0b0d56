-- 0004: keeping home_timeline right for the push and hybrid strategies.
--
-- The cache of user U may be truncated (capped), so each truncated cache has a
-- floor: home_timeline holds EVERY tweet of U's timeline at or above
-- (floor_created_at, floor_tweet_id); below it, readers fall back to pull. A
-- user without a floor row has a complete cache. Every change below keeps that
-- invariant, which is what makes push pages equal to pull pages.
--
-- The API tells these functions its strategy through connection settings
-- (lab.timeline_strategy = pull | push | hybrid, lab.timeline_cap,
-- lab.celebrity_followers); with none set (the seeder, psql) they do nothing.

CREATE TABLE home_timeline_floors (
    user_id          bigint PRIMARY KEY,
    floor_created_at timestamptz NOT NULL,
    floor_tweet_id   bigint NOT NULL
);
COMMENT ON TABLE home_timeline_floors IS
    'Users whose home_timeline is truncated: complete only at or above this (created_at, tweet_id).';

CREATE FUNCTION set_floor(p_user bigint, p_created_at timestamptz, p_tweet bigint)
RETURNS boolean
LANGUAGE sql AS $$
    INSERT INTO home_timeline_floors VALUES (p_user, p_created_at, p_tweet)
    ON CONFLICT (user_id) DO UPDATE
        SET floor_created_at = excluded.floor_created_at, floor_tweet_id = excluded.floor_tweet_id
    RETURNING true
$$;
COMMENT ON FUNCTION set_floor(bigint, timestamptz, bigint) IS
    'Record that a cache is complete only at or above this position.';

CREATE FUNCTION set_home_timeline_floors(p_cap integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    -- A cache holding p_cap entries may have been truncated: its floor is its
    -- p_cap-th entry (one index probe per user).
    SELECT count(set_floor(u.id, h.created_at, h.tweet_id)) INTO v_count
    FROM users AS u
    CROSS JOIN LATERAL (SELECT created_at, tweet_id FROM home_timeline
                        WHERE user_id = u.id
                        ORDER BY created_at DESC, tweet_id DESC
                        OFFSET p_cap - 1 LIMIT 1) AS h;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION set_home_timeline_floors(integer) IS
    'Give every cache truncated at p_cap its floor (after a seed; by this migration for older seeds).';

-- Databases seeded before this migration hold caches truncated at the
-- dataset's timeline_cap: give them their floors now.
SELECT set_home_timeline_floors((value #>> '{}')::integer)
FROM dataset_facts WHERE key = 'timeline_cap';

CREATE FUNCTION timeline_strategy() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('lab.timeline_strategy', true), ''), 'pull')
$$;
COMMENT ON FUNCTION timeline_strategy() IS 'The caller''s strategy (pull when unset): push and hybrid maintain home_timeline.';

CREATE FUNCTION timeline_cap() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('lab.timeline_cap', true), '')::integer, 800)
$$;
COMMENT ON FUNCTION timeline_cap() IS 'Most entries a follow backfills into a cache.';

CREATE FUNCTION celebrity_followers() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('lab.celebrity_followers', true), '')::integer, 10000)
$$;
COMMENT ON FUNCTION celebrity_followers() IS 'Under hybrid, authors with more followers than this are pulled, not pushed.';

CREATE FUNCTION is_celebrity(p_user bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT timeline_strategy() = 'hybrid'
       AND (SELECT followers_count FROM users WHERE id = p_user) > celebrity_followers()
$$;
COMMENT ON FUNCTION is_celebrity(bigint) IS
    'Under hybrid, an author above the follower threshold is not fanned out; readers pull and merge it.';

CREATE TABLE fanout_queue (
    tweet_id    bigint PRIMARY KEY,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE fanout_queue IS
    'Tweets waiting for delivery to followers'' caches when fan-out runs in the background (lab.fanout = queue).';

CREATE FUNCTION deliver_to_followers(p_tweet bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_delivered integer;
BEGIN
    -- delete_tweet locks the row FOR UPDATE: either it finished first (the
    -- tweet is gone, nothing to deliver) or it waits for this delivery and
    -- then removes what was delivered. Without the lock a delete committing
    -- between this statement's snapshot and its insert left orphans.
    PERFORM 1 FROM tweets WHERE id = p_tweet FOR SHARE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    INSERT INTO home_timeline (user_id, created_at, tweet_id)
    SELECT f.follower_id, t.created_at, t.id
    FROM tweets AS t JOIN followers AS f ON f.followee_id = t.user_id
    WHERE t.id = p_tweet AND NOT is_celebrity(t.user_id)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_delivered = ROW_COUNT;
    RETURN v_delivered;
END
$$;
COMMENT ON FUNCTION deliver_to_followers(bigint) IS
    'Insert a tweet into its author''s followers'' caches (nothing for a hybrid celebrity, or a deleted tweet).';

CREATE FUNCTION timeline_after_post(p_tweet bigint, p_created boolean) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT p_created OR timeline_strategy() = 'pull' THEN
        RETURN 0;
    END IF;
    -- The author sees their own tweet at once, whatever the fan-out mode.
    INSERT INTO home_timeline (user_id, created_at, tweet_id)
    SELECT user_id, created_at, id FROM tweets WHERE id = p_tweet
    ON CONFLICT DO NOTHING;
    IF current_setting('lab.fanout', true) = 'queue' THEN
        INSERT INTO fanout_queue (tweet_id) VALUES (p_tweet);
        RETURN 1;
    END IF;
    RETURN 1 + deliver_to_followers(p_tweet);
END
$$;
COMMENT ON FUNCTION timeline_after_post(bigint, boolean) IS
    'Push and hybrid: put a new tweet in its author''s cache and deliver it to followers now '
    '(lab.fanout = inline) or through fanout_queue (queue). Returns deliveries made now.';

CREATE FUNCTION deliver_queued(p_batch integer, OUT tweets integer, OUT delivered integer,
                               OUT max_lag_ms double precision)
LANGUAGE plpgsql AS $$
DECLARE
    v_item record;
BEGIN
    tweets := 0;
    delivered := 0;
    max_lag_ms := 0;
    -- Claimed with SKIP LOCKED: several API workers drain the queue together
    -- without waiting on each other or delivering a tweet twice.
    FOR v_item IN
        DELETE FROM fanout_queue
        WHERE tweet_id IN (SELECT q.tweet_id FROM fanout_queue AS q ORDER BY q.enqueued_at
                           LIMIT p_batch FOR UPDATE SKIP LOCKED)
        RETURNING fanout_queue.tweet_id, fanout_queue.enqueued_at
    LOOP
        delivered := delivered + deliver_to_followers(v_item.tweet_id);
        tweets := tweets + 1;
        max_lag_ms := greatest(max_lag_ms,
                               extract(epoch FROM clock_timestamp() - v_item.enqueued_at) * 1000);
    END LOOP;
END
$$;
COMMENT ON FUNCTION deliver_queued(integer) IS
    'Background fan-out: deliver up to p_batch queued tweets; reports the oldest wait in ms.';

CREATE FUNCTION timeline_after_follow(p_follower bigint, p_followee bigint, p_result text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_floor_at timestamptz;
    v_floor_id bigint;
    v_cap integer := timeline_cap();
    v_added integer;
    v_oldest record;
BEGIN
    IF p_result NOT IN ('followed', 'approved') OR timeline_strategy() = 'pull'
       OR is_celebrity(p_followee) THEN
        RETURN p_result;
    END IF;
    SELECT floor_created_at, floor_tweet_id INTO v_floor_at, v_floor_id
    FROM home_timeline_floors WHERE user_id = p_follower FOR UPDATE;
    INSERT INTO home_timeline (user_id, created_at, tweet_id)
    SELECT p_follower, t.created_at, t.id FROM tweets AS t
    WHERE t.user_id = p_followee
      AND (v_floor_at IS NULL OR (t.created_at, t.id) >= (v_floor_at, v_floor_id))
    ORDER BY t.created_at DESC, t.id DESC
    LIMIT v_cap
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    IF v_added = v_cap THEN
        -- The followee has more above the floor than the cap: the cache is now
        -- complete only down to the oldest tweet just added.
        SELECT t.created_at, t.id INTO v_oldest FROM tweets AS t
        WHERE t.user_id = p_followee
          AND (v_floor_at IS NULL OR (t.created_at, t.id) >= (v_floor_at, v_floor_id))
        ORDER BY t.created_at DESC, t.id DESC OFFSET v_cap - 1 LIMIT 1;
        PERFORM set_floor(p_follower, v_oldest.created_at, v_oldest.id);
    END IF;
    RETURN p_result;
END
$$;
COMMENT ON FUNCTION timeline_after_follow(bigint, bigint, text) IS
    'After a follow or an approval: backfill the followee''s tweets above the follower''s floor (at most the cap).';

CREATE FUNCTION timeline_after_unfollow(p_follower bigint, p_followee bigint, p_result text)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF p_result = 'unfollowed' AND timeline_strategy() <> 'pull' THEN
        DELETE FROM home_timeline AS h USING tweets AS t
        WHERE h.user_id = p_follower AND t.id = h.tweet_id AND t.user_id = p_followee;
    END IF;
    RETURN p_result;
END
$$;
COMMENT ON FUNCTION timeline_after_unfollow(bigint, bigint, text) IS
    'After an unfollow: remove the followee''s tweets from the former follower''s cache.';

CREATE FUNCTION trim_home_timeline(p_user bigint, p_cap integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_last record;
    v_removed integer;
BEGIN
    SELECT created_at, tweet_id INTO v_last FROM home_timeline WHERE user_id = p_user
    ORDER BY created_at DESC, tweet_id DESC OFFSET p_cap - 1 LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    DELETE FROM home_timeline
    WHERE user_id = p_user AND (created_at, tweet_id) < (v_last.created_at, v_last.tweet_id);
    GET DIAGNOSTICS v_removed = ROW_COUNT;
    IF v_removed > 0 THEN
        -- Every entry was at or above the old floor, so the new one is higher.
        PERFORM set_floor(p_user, v_last.created_at, v_last.tweet_id);
    END IF;
    RETURN v_removed;
END
$$;
COMMENT ON FUNCTION trim_home_timeline(bigint, integer) IS
    'Keep the newest p_cap entries of a cache, raising its floor; maintenance, not on the request path.';

-- ------------------------------------------------------------- reading --
-- Each strategy returns the ids of one page, newest first, strictly before
-- (p_before_ts, p_before_id); tweet_page turns any list of ids into the
-- page JSON with one visibility rule for every path.

CREATE FUNCTION timeline_pull_ids(p_user bigint, p_before_ts timestamptz, p_before_id bigint,
                                  p_limit integer)
RETURNS TABLE (id bigint, created_at timestamptz)
LANGUAGE sql STABLE AS $$
    -- Per followee only its newest p_limit tweets (an index-only scan of
    -- tweets_user_timeline_idx each), then the newest p_limit of those. At
    -- medium scale, 1,597 followees: 43-46 ms, against 115-183 ms for the
    -- seed's IN form (home_timeline_seed) on the same covering index.
    SELECT l.id, l.created_at
    FROM (SELECT f.followee_id FROM following AS f WHERE f.follower_id = p_user
          UNION ALL SELECT p_user) AS sources (user_id)
    CROSS JOIN LATERAL (
        SELECT t.id, t.created_at FROM tweets AS t
        WHERE t.user_id = sources.user_id
          AND (t.created_at, t.id) < (p_before_ts, p_before_id)
        ORDER BY t.created_at DESC, t.id DESC
        LIMIT p_limit) AS l
    ORDER BY l.created_at DESC, l.id DESC
    LIMIT p_limit
$$;
COMMENT ON FUNCTION timeline_pull_ids(bigint, timestamptz, bigint, integer) IS
    'Fan-out on read: one page of a home timeline from following and tweets.';

CREATE FUNCTION timeline_cached_ids(p_user bigint, p_before_ts timestamptz, p_before_id bigint,
                                    p_limit integer, p_celebrities boolean)
RETURNS TABLE (id bigint, created_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_floor_at timestamptz := '-infinity';
    v_floor_id bigint := 0;
    v_found integer;
BEGIN
    SELECT floor_created_at, floor_tweet_id INTO v_floor_at, v_floor_id
    FROM home_timeline_floors WHERE user_id = p_user;
    IF NOT FOUND THEN
        v_floor_at := '-infinity';
        v_floor_id := 0;
    END IF;
    -- Above the floor: the cache (plus, for hybrid, the followed celebrities'
    -- tweets, which were never fanned out), deduplicated.
    RETURN QUERY
    SELECT DISTINCT ON (above.created_at, above.id) above.id, above.created_at FROM (
        (SELECT h.tweet_id, h.created_at FROM home_timeline AS h
         WHERE h.user_id = p_user
           AND (h.created_at, h.tweet_id) < (p_before_ts, p_before_id)
           AND (h.created_at, h.tweet_id) >= (v_floor_at, v_floor_id)
         ORDER BY h.created_at DESC, h.tweet_id DESC LIMIT p_limit)
        UNION ALL
        (SELECT l.id, l.created_at
         FROM following AS f
         JOIN users AS u ON u.id = f.followee_id
         CROSS JOIN LATERAL (
             SELECT t.id, t.created_at FROM tweets AS t
             WHERE t.user_id = f.followee_id
               AND (t.created_at, t.id) < (p_before_ts, p_before_id)
               AND (t.created_at, t.id) >= (v_floor_at, v_floor_id)
             ORDER BY t.created_at DESC, t.id DESC LIMIT p_limit) AS l
         WHERE p_celebrities AND f.follower_id = p_user
           AND u.followers_count > celebrity_followers())
    ) AS above (id, created_at)
    ORDER BY above.created_at DESC, above.id DESC
    LIMIT p_limit;
    GET DIAGNOSTICS v_found = ROW_COUNT;
    -- Below the floor the cache is incomplete: pull the rest of the page.
    IF v_found < p_limit AND v_floor_at > '-infinity' THEN
        IF (p_before_ts, p_before_id) > (v_floor_at, v_floor_id) THEN
            p_before_ts := v_floor_at;
            p_before_id := v_floor_id;
        END IF;
        RETURN QUERY SELECT * FROM timeline_pull_ids(p_user, p_before_ts, p_before_id,
                                                     p_limit - v_found);
    END IF;
END
$$;
COMMENT ON FUNCTION timeline_cached_ids(bigint, timestamptz, bigint, integer, boolean) IS
    'Fan-out on write (push), or with followed celebrities merged at read time (hybrid): '
    'one page from home_timeline above the floor, pulled below it.';

CREATE FUNCTION tweet_page(p_viewer bigint, p_ids bigint[], p_limit integer) RETURNS json
LANGUAGE sql STABLE AS $$
    -- Tweets in the order given, leaving out what the viewer may not see (a
    -- protected author, or a retweet of one); the cursor is the last id's
    -- position whenever the page was full, so pages never skip or repeat.
    SELECT json_build_object(
        'tweets', coalesce((
            SELECT json_agg(tweet_json(t) ORDER BY page.ordinality)
            FROM unnest(p_ids) WITH ORDINALITY AS page (id, ordinality)
            JOIN tweets AS t ON t.id = page.id
            WHERE can_see(p_viewer, t.user_id)
              AND (t.body IS NOT NULL OR t.original_tweet_id IS NULL
                   OR can_see(p_viewer, (SELECT o.user_id FROM tweets AS o
                                         WHERE o.id = t.original_tweet_id)))), '[]'::json),
        'next_cursor', (
            SELECT page_cursor(t.created_at, t.id) FROM tweets AS t
            WHERE cardinality(p_ids) = p_limit AND t.id = p_ids[cardinality(p_ids)]))
$$;
COMMENT ON FUNCTION tweet_page(bigint, bigint[], integer) IS
    'The JSON page {tweets, next_cursor} for ids in page order, filtered for the viewer.';
