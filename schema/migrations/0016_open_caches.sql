-- 0016: home-timeline caches kept for active readers only, opened on a reader's first
-- read (issue 30, item 3). At a million users a cache of 200 entries for everyone is
-- 17 GiB of a 31 GB database, and every post writes one row per follower, whether or
-- not that follower will read again. Mastodon keeps home feeds for its active users
-- only and builds a returning user's feed anew.
--
-- A closed cache is a floor at +infinity (0004's invariant, unchanged: the cache holds
-- every entry at or above its floor): it holds nothing, reads of it pull, fan-out and
-- follows add nothing to it. The first read under push or hybrid opens it: the newest
-- entries, as a rebuild makes them, and the floor lowered to the oldest of them.
--
-- Opening cannot miss a post: it takes its user and every followee FOR SHARE, in id
-- order, before reading their tweets. post_tweet holds its author's row from before its
-- fan-out until it commits, so a post is either committed before the open reads (and
-- read by it) or waits until the open commits (and its fan-out, a new statement, sees
-- the lowered floor). Holding the reader's row also keeps their follows from changing
-- the followees in between; users are the last locks of a write (0010), so no cycle.

CREATE FUNCTION closed_floor() RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT 'infinity'::timestamptz $$;
COMMENT ON FUNCTION closed_floor() IS
    'The floor of a closed cache: every entry is below it, so it holds none and is read by pull.';

-- A view, not a function, so that every use is inlined: the fan-out's and the lab's
-- bulk queries keep their anti-joins.
CREATE VIEW closed_caches AS
SELECT user_id FROM home_timeline_floors WHERE floor_created_at = closed_floor();
COMMENT ON VIEW closed_caches IS
    'Readers whose cache is closed (read by pull until their first push or hybrid read).';

CREATE FUNCTION close_home_timeline(p_user bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_floor(p_user, closed_floor(), 9223372036854775807);
    DELETE FROM home_timeline WHERE user_id = p_user;
    RETURN true;
END
$$;
COMMENT ON FUNCTION close_home_timeline(bigint) IS
    'Stop keeping a reader''s cache (an idle reader): its entries go, reads pull until it opens.';

CREATE FUNCTION share_users(p_ids bigint[]) RETURNS integer
LANGUAGE sql AS $$
    WITH locked AS (
        SELECT id FROM users WHERE id = ANY (p_ids) ORDER BY id FOR SHARE
    )
    SELECT count(*)::integer FROM locked
$$;
COMMENT ON FUNCTION share_users(bigint[]) IS
    'Share-lock user rows in id order: writes by these users wait, and are waited for.';

CREATE FUNCTION open_home_timeline(p_user bigint, p_cap integer) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_followees bigint[];
    v_again bigint[];
    v_floor timestamptz;
    v_added integer;
    v_oldest record;
BEGIN
    -- Until the set locked is the set followed (a follow may commit in between, once).
    v_followees := ARRAY(SELECT followee_id FROM following WHERE follower_id = p_user
                         ORDER BY followee_id);
    LOOP
        PERFORM share_users(v_followees || p_user);
        v_again := ARRAY(SELECT followee_id FROM following WHERE follower_id = p_user
                         ORDER BY followee_id);
        EXIT WHEN v_again = v_followees;
        v_followees := v_again;
    END LOOP;
    -- Checked under the floor's row lock (callers look first, without it): two first
    -- reads at once, the second finds the cache open and leaves it.
    SELECT floor_created_at INTO v_floor FROM home_timeline_floors
    WHERE user_id = p_user FOR UPDATE;
    IF v_floor IS DISTINCT FROM closed_floor() THEN
        RETURN false;
    END IF;
    DELETE FROM home_timeline WHERE user_id = p_user;
    INSERT INTO home_timeline (user_id, created_at, tweet_id)
    SELECT p_user, p.created_at, p.id
    FROM timeline_pull_ids(p_user, 'infinity', 9223372036854775807, p_cap) AS p;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    IF v_added < p_cap THEN
        DELETE FROM home_timeline_floors WHERE user_id = p_user;  -- complete: no floor
    ELSE
        SELECT created_at, tweet_id INTO v_oldest FROM home_timeline WHERE user_id = p_user
        ORDER BY created_at, tweet_id LIMIT 1;
        PERFORM set_floor(p_user, v_oldest.created_at, v_oldest.tweet_id);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION open_home_timeline(bigint, integer) IS
    'Open a closed cache: its newest p_cap entries and the floor below them; false when it was open.';

CREATE FUNCTION open_slots() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 2 $$;
COMMENT ON FUNCTION open_slots() IS
    'How many caches may be opened at once: one per core of the machine the lab runs on.';

CREATE FUNCTION opened_entries() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 200 $$;
COMMENT ON FUNCTION opened_entries() IS
    'Entries an opened cache starts with (as seeded); fan-out adds to them, reads below pull.';

CREATE FUNCTION open_home_timeline_ids(p_user bigint, p_before_ts timestamptz,
                                       p_before_id bigint, p_limit integer, p_strategy text,
                                       OUT ids bigint[], OUT resume_ts timestamptz,
                                       OUT resume_id bigint, OUT cache text)
LANGUAGE plpgsql AS $$
BEGIN
    -- A closed cache is opened when one of open_slots() is free, else read by pull (it is
    -- correct either way) and left for a later read: a thousand readers returning at once
    -- (a load's start) must not each hold a connection while building theirs (measured:
    -- unbounded, they emptied the API's pools and 113 requests got 503 in one second).
    IF EXISTS (SELECT 1 FROM closed_caches WHERE user_id = p_user) THEN
        cache := 'closed';
        FOR v_slot IN 1 .. open_slots() LOOP
            IF pg_try_advisory_xact_lock(hashtext('open_home_timeline'), v_slot) THEN
                IF open_home_timeline(p_user, least(timeline_cap(), opened_entries())) THEN
                    cache := 'opened';
                END IF;
                EXIT;
            END IF;
        END LOOP;
    END IF;
    -- Volatile, so the read below is a new statement that sees the entries just made.
    SELECT h.ids, h.resume_ts, h.resume_id INTO ids, resume_ts, resume_id
    FROM home_timeline_ids(p_user, p_before_ts, p_before_id, p_limit, p_strategy) AS h;
END
$$;
COMMENT ON FUNCTION open_home_timeline_ids(bigint, timestamptz, bigint, integer, text) IS
    'Push and hybrid pages; cache = opened (this read opened it), closed (read by pull, all '
    'open slots busy) or NULL (it was open): the first two are cold reads.';

CREATE OR REPLACE FUNCTION deliver_to_followers(p_tweet bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_author bigint;
    v_delivered integer;
BEGIN
    SELECT user_id INTO v_author FROM tweets WHERE id = p_tweet FOR SHARE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF is_celebrity(v_author) THEN
        PERFORM mark_pulled(v_author);
        RETURN 0;
    END IF;
    -- Not to a cache whose floor is above the tweet: a closed one, or one the tweet is
    -- too old for (it would sit below the floor, never read).
    INSERT INTO home_timeline (user_id, created_at, tweet_id)
    SELECT f.follower_id, t.created_at, t.id
    FROM tweets AS t JOIN followers AS f ON f.followee_id = t.user_id
    WHERE t.id = p_tweet
      AND NOT EXISTS (SELECT 1 FROM home_timeline_floors AS fl
                      WHERE fl.user_id = f.follower_id
                        AND (fl.floor_created_at, fl.floor_tweet_id) > (t.created_at, t.id))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_delivered = ROW_COUNT;
    RETURN v_delivered;
END
$$;

CREATE OR REPLACE FUNCTION timeline_after_post(p_tweet bigint, p_created boolean) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_own integer;
BEGIN
    IF NOT p_created OR timeline_strategy() = 'pull' THEN
        RETURN 0;
    END IF;
    -- The author sees their own tweet at once, whatever the fan-out mode (an author
    -- whose cache is closed sees it by pull).
    INSERT INTO home_timeline (user_id, created_at, tweet_id)
    SELECT t.user_id, t.created_at, t.id FROM tweets AS t
    WHERE t.id = p_tweet
      AND NOT EXISTS (SELECT 1 FROM closed_caches AS c WHERE c.user_id = t.user_id)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_own = ROW_COUNT;
    IF current_setting('lab.fanout', true) = 'queue' THEN
        INSERT INTO fanout_queue (tweet_id) VALUES (p_tweet);
        RETURN v_own;
    END IF;
    RETURN v_own + deliver_to_followers(p_tweet);
END
$$;

CREATE OR REPLACE FUNCTION rebuild_home_timelines(p_cap integer, p_strategy text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- What fan-out on write would hold for every open cache: each reader's newest p_cap
    -- tweets of their own and of whom they follow (pulled authors too, so no one needs
    -- pulling afterwards). Closed caches stay closed.
    TRUNCATE home_timeline;
    DELETE FROM home_timeline_floors WHERE floor_created_at <> closed_floor();
    INSERT INTO home_timeline (user_id, created_at, tweet_id)
    SELECT u.id, p.created_at, p.id
    FROM users AS u
    CROSS JOIN LATERAL timeline_pull_ids(u.id, 'infinity', 9223372036854775807, p_cap) AS p
    WHERE NOT EXISTS (SELECT 1 FROM home_timeline_floors AS fl WHERE fl.user_id = u.id);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM set_home_timeline_floors(p_cap);
    UPDATE users SET timeline_pulled = false WHERE timeline_pulled;
    PERFORM mark_caches_complete(p_strategy);
    RETURN v_rows;
END
$$;
