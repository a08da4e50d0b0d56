-- 0011: graph writes with bounds, and going public in the one lock order (issue 27).
--
-- * Following is capped (lab.max_following, 5,000 by default: Twitter's own limit for
--   most accounts, per its help page "Following limits"), counting follows and requests
--   still pending: each follow under push backfills up to timeline_cap rows, and each
--   pull page probes every followee, so both stay bounded by the cap.
-- * Pending requests to one account are capped (lab.max_pending_requests, 100): going
--   public approves them all, with a backfill each, in one transaction, which must stay
--   well inside the statement timeout. A denied requester may ask again, but never past
--   the cap.
-- * Going public locks the owner and every requester in id order before anything else
--   (lock_owner_and_requesters); before, PATCH /me locked the owner, then each requester,
--   while follow and unfollow locked each pair in id order: 21 deadlocks in 52 requests.

CREATE FUNCTION max_following() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('lab.max_following', true), '')::integer, 5000)
$$;
COMMENT ON FUNCTION max_following() IS
    'Most accounts a user may follow or have asked to follow (pending requests count).';

CREATE FUNCTION max_pending_requests() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('lab.max_pending_requests', true), '')::integer, 100)
$$;
COMMENT ON FUNCTION max_pending_requests() IS
    'Most follow requests an account may have waiting (going public approves them all at once).';

CREATE OR REPLACE FUNCTION follow(p_follower bigint, p_followee bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_protected boolean;
BEGIN
    IF p_follower = p_followee THEN
        RAISE EXCEPTION 'a user cannot follow themselves (user %)', p_follower
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lock_user_pair(p_follower, p_followee) < 2 THEN
        RAISE EXCEPTION 'no such user: % or %', p_follower, p_followee
            USING ERRCODE = 'no_data_found';
    END IF;
    IF EXISTS (SELECT 1 FROM following WHERE follower_id = p_follower AND followee_id = p_followee) THEN
        RETURN 'already_following';
    END IF;
    IF EXISTS (SELECT 1 FROM follow_requests WHERE followee_id = p_followee
                                               AND follower_id = p_follower) THEN
        RETURN 'already_requested';
    END IF;
    -- Both counts are read under the pair lock: concurrent follows of one user queue here.
    IF (SELECT following_count FROM users WHERE id = p_follower)
       + (SELECT count(*) FROM follow_requests WHERE follower_id = p_follower)
       >= max_following() THEN
        RAISE EXCEPTION 'user % already follows or asked to follow % accounts, the most allowed',
            p_follower, max_following() USING ERRCODE = 'program_limit_exceeded';
    END IF;
    SELECT is_protected INTO v_protected FROM users WHERE id = p_followee;
    IF v_protected THEN
        IF (SELECT count(*) FROM follow_requests WHERE followee_id = p_followee)
           >= max_pending_requests() THEN
            RAISE EXCEPTION 'user % has % follow requests waiting, the most allowed: try later',
                p_followee, max_pending_requests() USING ERRCODE = 'program_limit_exceeded';
        END IF;
        INSERT INTO follow_requests (followee_id, follower_id) VALUES (p_followee, p_follower);
        RETURN 'requested';
    END IF;
    PERFORM add_follow_edge(p_follower, p_followee);
    RETURN 'followed';
END
$$;

CREATE FUNCTION lock_owner_and_requesters(p_owner bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
BEGIN
    -- Must be a transaction's first lock. A request made while this waited is not in the
    -- set it locked; taking that requester now, after the owner, would invert the order,
    -- so the attempt is rolled back (its locks released) and made again.
    LOOP
        BEGIN
            v_ids := ARRAY(SELECT follower_id FROM follow_requests WHERE followee_id = p_owner);
            PERFORM lock_users(v_ids || p_owner);
            IF NOT EXISTS (SELECT 1 FROM follow_requests
                           WHERE followee_id = p_owner AND follower_id <> ALL (v_ids)) THEN
                RETURN cardinality(v_ids);
            END IF;
            RAISE EXCEPTION 'requests arrived while locking' USING ERRCODE = 'LR001';
        EXCEPTION WHEN SQLSTATE 'LR001' THEN
            NULL;  -- try again with the new set
        END;
    END LOOP;
END
$$;
COMMENT ON FUNCTION lock_owner_and_requesters(bigint) IS
    'Lock an account and everyone waiting for its approval, in id order (before going public).';

CREATE FUNCTION approve_all_requests(p_owner bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_requester bigint;
    v_approved integer := 0;
BEGIN
    PERFORM lock_owner_and_requesters(p_owner);
    FOR v_requester IN SELECT follower_id FROM follow_requests WHERE followee_id = p_owner
                       ORDER BY follower_id LOOP
        PERFORM timeline_after_follow(v_requester, p_owner,
                                      decide_follow_request(p_owner, v_requester, true));
        v_approved := v_approved + 1;
    END LOOP;
    RETURN v_approved;
END
$$;
COMMENT ON FUNCTION approve_all_requests(bigint) IS
    'Approve every request waiting for an account (at most max_pending_requests), each with its '
    'backfill; the first statement of the transaction that makes the account public.';
