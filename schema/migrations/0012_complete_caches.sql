-- Caches that stay complete: no author's tweets lost under hybrid, and no
-- database served under one strategy read stale under another (issue 27,
-- items 14 and 17).
--
-- 1. Under hybrid an author above the celebrity threshold is never fanned out
--    and readers pull them instead; once below it they were no longer pulled,
--    and what they had posted meanwhile was in no cache. An author whose
--    tweet or follow skipped the caches is now marked `timeline_pulled` and
--    pulled by hybrid readers from then on, whatever their follower count.
-- 2. Pull does not maintain the caches. `timeline_caches` records which
--    strategy last served the database and since when its caches were known
--    complete (a seed, a rebuild); `begin_serving` says when a cached
--    strategy must rebuild them first (after pull, or push after hybrid
--    pulled someone), and `rebuild_home_timelines` does.

ALTER TABLE users ADD COLUMN timeline_pulled boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN users.timeline_pulled IS
    'Hybrid: a tweet or a follow of this author skipped the caches, so readers pull this author.';

CREATE FUNCTION mark_pulled(p_user bigint) RETURNS void
LANGUAGE sql AS $$
    -- The author's row is locked already (post_tweet's counter, follow's pair),
    -- or, for the background fan-out, after the tweet: the one lock order.
    UPDATE users SET timeline_pulled = true WHERE id = p_user AND NOT timeline_pulled
$$;
COMMENT ON FUNCTION mark_pulled(bigint) IS
    'Hybrid: this author skipped the caches; readers pull them from now on.';

CREATE OR REPLACE FUNCTION is_celebrity(p_user bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT timeline_strategy() = 'hybrid'
       AND (SELECT followers_count > celebrity_followers() OR timeline_pulled
            FROM users WHERE id = p_user)
$$;
COMMENT ON FUNCTION is_celebrity(bigint) IS
    'Under hybrid, an author above the follower threshold, or one pulled before, is not fanned out.';

CREATE OR REPLACE FUNCTION deliver_to_followers(p_tweet bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_author bigint;
    v_delivered integer;
BEGIN
    -- The tweet locked first, as delete_tweet does (see 0004): a delete either
    -- finished (nothing to deliver) or waits and removes what is delivered.
    SELECT user_id INTO v_author FROM tweets WHERE id = p_tweet FOR SHARE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF is_celebrity(v_author) THEN
        PERFORM mark_pulled(v_author);
        RETURN 0;
    END IF;
    INSERT INTO home_timeline (user_id, created_at, tweet_id)
    SELECT f.follower_id, t.created_at, t.id
    FROM tweets AS t JOIN followers AS f ON f.followee_id = t.user_id
    WHERE t.id = p_tweet
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_delivered = ROW_COUNT;
    RETURN v_delivered;
END
$$;

CREATE OR REPLACE FUNCTION timeline_after_follow(p_follower bigint, p_followee bigint,
                                                 p_result text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_floor_at timestamptz;
    v_floor_id bigint;
    v_cap integer := timeline_cap();
    v_added integer;
    v_oldest record;
BEGIN
    IF p_result NOT IN ('followed', 'approved') OR timeline_strategy() = 'pull' THEN
        RETURN p_result;
    END IF;
    IF is_celebrity(p_followee) THEN
        PERFORM mark_pulled(p_followee);
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
        SELECT t.created_at, t.id INTO v_oldest FROM tweets AS t
        WHERE t.user_id = p_followee
          AND (v_floor_at IS NULL OR (t.created_at, t.id) >= (v_floor_at, v_floor_id))
        ORDER BY t.created_at DESC, t.id DESC OFFSET v_cap - 1 LIMIT 1;
        PERFORM set_floor(p_follower, v_oldest.created_at, v_oldest.id);
    END IF;
    RETURN p_result;
END
$$;

CREATE OR REPLACE FUNCTION timeline_cached_ids(p_user bigint, p_before_ts timestamptz,
                                               p_before_id bigint, p_limit integer,
                                               p_celebrities boolean)
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
    -- Above the floor: the cache, plus for hybrid the followed authors that are
    -- pulled (above the threshold, or marked), deduplicated.
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
           AND (u.followers_count > celebrity_followers() OR u.timeline_pulled))
    ) AS above (id, created_at)
    ORDER BY above.created_at DESC, above.id DESC
    LIMIT p_limit;
    GET DIAGNOSTICS v_found = ROW_COUNT;
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

CREATE TABLE timeline_caches (
    only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    served_by      text NOT NULL CHECK (served_by IN ('pull', 'push', 'hybrid', 'unknown')),
    complete_since timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE timeline_caches IS
    'The strategy that last served this database, and since when its caches were known '
    'complete (a seed or a rebuild): lab check looks for entries missing since then.';
-- An empty database's caches are complete; a database with history is of unknown state.
INSERT INTO timeline_caches (served_by)
SELECT CASE WHEN EXISTS (SELECT 1 FROM tweets) THEN 'unknown' ELSE 'push' END;

CREATE FUNCTION begin_serving(p_strategy text) RETURNS text
LANGUAGE plpgsql AS $$
-- Record that p_strategy serves now. Returns the strategy that made the caches stale
-- when p_strategy reads them and must rebuild them first (nothing is recorded then).
DECLARE
    v_last text;
BEGIN
    SELECT served_by INTO v_last FROM timeline_caches FOR UPDATE;
    IF p_strategy <> 'pull'
       AND (v_last IN ('pull', 'unknown')
            OR (v_last = 'hybrid' AND p_strategy = 'push'
                AND EXISTS (SELECT 1 FROM users WHERE timeline_pulled))) THEN
        RETURN v_last;
    END IF;
    UPDATE timeline_caches SET served_by = p_strategy;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION begin_serving(text) IS
    'A strategy starts serving: NULL, or the strategy whose writes left the caches stale for it.';

CREATE FUNCTION mark_caches_complete(p_strategy text) RETURNS void
LANGUAGE sql AS $$
    UPDATE timeline_caches SET served_by = p_strategy, complete_since = clock_timestamp()
$$;
COMMENT ON FUNCTION mark_caches_complete(text) IS
    'The caches were just built whole (a seed, a rebuild) for this strategy.';

CREATE FUNCTION rebuild_home_timelines(p_cap integer, p_strategy text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- What fan-out on write would hold: each user's newest p_cap tweets of their own and
    -- of whom they follow (pulled authors too, so no one needs pulling afterwards).
    TRUNCATE home_timeline, home_timeline_floors;
    INSERT INTO home_timeline (user_id, created_at, tweet_id)
    SELECT u.id, p.created_at, p.id
    FROM users AS u
    CROSS JOIN LATERAL timeline_pull_ids(u.id, 'infinity', 9223372036854775807, p_cap) AS p;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM set_home_timeline_floors(p_cap);
    UPDATE users SET timeline_pulled = false WHERE timeline_pulled;
    PERFORM mark_caches_complete(p_strategy);
    RETURN v_rows;
END
$$;
COMMENT ON FUNCTION rebuild_home_timelines(integer, text) IS
    'Build every cache anew (newest p_cap per user) and record them complete for p_strategy.';
