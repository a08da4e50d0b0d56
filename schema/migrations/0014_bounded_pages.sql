-- Pages that read a bounded number of candidates (issue 27, item 6).
--
-- A page is filtered for its viewer before its limit, so a stretch of tweets
-- the viewer may not see (retweets of an account that went protected, replies
-- by protected accounts) used to be read through to its end: the home
-- timeline re-read `limit` candidates a round until the page was full (under
-- pull 250 hidden retweets made a one-tweet page 0.59 s, 52 times its usual
-- cost), and a user's tweets or a thread scanned on. Now:
--
-- - the home timeline reads at most 4 rounds, of limit, then 4 times more each
--   round up to 100 candidates (at most 4 times a full 100-tweet page's work);
-- - a user's tweets and a thread read at most 400 candidates (a page's limit is
--   at most 100; lab/queries.sql, plain statements so their plans stay visible);
-- - a page that reached its bound before it was full comes back short, with the
--   position of the last candidate read as where the next page starts. The API
--   seals that position (lab/api/cursors.py): it may be a hidden tweet's.

DROP FUNCTION home_timeline_ids(bigint, timestamptz, bigint, integer, text);

CREATE FUNCTION home_timeline_ids(p_user bigint, p_before_ts timestamptz, p_before_id bigint,
                                  p_limit integer, p_strategy text,
                                  OUT ids bigint[], OUT resume_ts timestamptz,
                                  OUT resume_id bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_shown bigint[];
    v_read integer;
    v_batch integer := p_limit;
    v_round integer := 0;
BEGIN
    ids := '{}';
    LOOP
        v_round := v_round + 1;
        SELECT coalesce(array_agg(c.id ORDER BY c.created_at DESC, c.id DESC)
                        FILTER (WHERE v.visible), '{}'),
               count(*),
               (array_agg(c.created_at ORDER BY c.created_at, c.id))[1],
               (array_agg(c.id ORDER BY c.created_at, c.id))[1]
        INTO v_shown, v_read, p_before_ts, p_before_id
        FROM (SELECT p.id, p.created_at
              FROM timeline_pull_ids(p_user, p_before_ts, p_before_id, v_batch) AS p
              WHERE p_strategy = 'pull'
              UNION ALL
              SELECT p.id, p.created_at
              FROM timeline_cached_ids(p_user, p_before_ts, p_before_id, v_batch,
                                       p_strategy = 'hybrid') AS p
              WHERE p_strategy <> 'pull') AS c
        LEFT JOIN LATERAL tweet_visibility(p_user, c.id) AS v ON true;
        ids := ids || v_shown[1:p_limit - cardinality(ids)];
        -- Full, or the candidates ran out (fewer than asked for: the timeline's end).
        EXIT WHEN cardinality(ids) >= p_limit OR v_read < v_batch;
        IF v_round >= 4 THEN
            -- The bound: the next page starts after the oldest candidate read.
            resume_ts := p_before_ts;
            resume_id := p_before_id;
            EXIT;
        END IF;
        v_batch := least(v_batch * 4, greatest(p_limit, 100));
    END LOOP;
END
$$;
COMMENT ON FUNCTION home_timeline_ids(bigint, timestamptz, bigint, integer, text) IS
    'One page of a home timeline the user may see; after 4 rounds of candidates a short page '
    'and where the next one starts.';
-- As in 0009: the plan does not depend on the parameters' values.
ALTER FUNCTION home_timeline_ids(bigint, timestamptz, bigint, integer, text)
    SET plan_cache_mode = force_generic_plan;
