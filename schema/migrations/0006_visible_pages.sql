-- 0006: a page shows only what its viewer may see, and says nothing about the rest.
-- Before, a page was cut to its limit first and filtered for the viewer after: it could
-- come back short (even empty) while more visible tweets existed, and its next_cursor
-- named the last row before the filter, by id and creation time to the microsecond,
-- though the viewer could not see it. Now visibility is decided before the limit, a
-- cursor is built only from what the page returns, and a visible tweet's references
-- (the tweet it answers, the tweet it quotes) are left out when the viewer may not see
-- them: an invisible tweet is indistinguishable from a missing one, id included.

CREATE FUNCTION tweet_visible(p_viewer bigint, t tweets) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(can_see(p_viewer, t.user_id), false)
       AND (t.body IS NOT NULL OR t.original_tweet_id IS NULL
            OR coalesce(can_see(p_viewer, (SELECT o.user_id FROM tweets AS o
                                           WHERE o.id = t.original_tweet_id)), false))
$$;
COMMENT ON FUNCTION tweet_visible(bigint, tweets) IS
    'Whether the viewer may see the tweet: its author, and for a retweet the original''s author '
    '(the one rule of visible_tweet, for rows already read).';

CREATE FUNCTION tweet_id_visible(p_viewer bigint, p_tweet bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT tweet_visible(p_viewer, t) FROM tweets AS t WHERE t.id = p_tweet),
                    false)
$$;
COMMENT ON FUNCTION tweet_id_visible(bigint, bigint) IS
    'Whether the tweet exists and the viewer may see it.';

CREATE FUNCTION tweet_json_for(p_viewer bigint, t tweets) RETURNS json
LANGUAGE sql STABLE AS $$
    -- tweet_json, with the id of a replied-to or quoted tweet left out (NULL) when the
    -- viewer may not see that tweet. The columns are the tweets table's, in its order.
    SELECT tweet_json(ROW(t.id, t.user_id, t.body,
        CASE WHEN t.reply_to_tweet_id IS NULL THEN NULL
             WHEN tweet_id_visible(p_viewer, t.reply_to_tweet_id) THEN t.reply_to_tweet_id END,
        CASE WHEN t.original_tweet_id IS NULL THEN NULL
             WHEN tweet_id_visible(p_viewer, t.original_tweet_id) THEN t.original_tweet_id END,
        t.like_count, t.retweet_count, t.quote_count, t.reply_count, t.created_at)::tweets)
$$;
COMMENT ON FUNCTION tweet_json_for(bigint, tweets) IS
    'A tweet as the API returns it to this viewer: references to tweets it may not see left out.';

CREATE OR REPLACE FUNCTION tweet_page(p_viewer bigint, p_ids bigint[], p_limit integer)
RETURNS json
LANGUAGE sql STABLE AS $$
    -- The tweets of p_ids the viewer may see, in the order given; the cursor is the last
    -- of those whenever the page is full, so it never names a tweet left out.
    WITH shown AS (
        SELECT t AS tweet, page.ordinality
        FROM unnest(p_ids) WITH ORDINALITY AS page (id, ordinality)
        JOIN tweets AS t ON t.id = page.id
        WHERE tweet_visible(p_viewer, t))
    SELECT json_build_object(
        'tweets', coalesce((SELECT json_agg(tweet_json_for(p_viewer, s.tweet)
                                            ORDER BY s.ordinality)
                            FROM shown AS s), '[]'::json),
        'next_cursor', (SELECT page_cursor((s.tweet).created_at, (s.tweet).id)
                        FROM shown AS s
                        WHERE (SELECT count(*) FROM shown) >= p_limit
                        ORDER BY s.ordinality DESC LIMIT 1))
$$;

CREATE FUNCTION home_timeline_ids(p_user bigint, p_before_ts timestamptz, p_before_id bigint,
                                  p_limit integer, p_strategy text) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
-- One page of a home timeline, newest first, of tweets the user may see: the strategy's
-- candidates (timeline_pull_ids, or timeline_cached_ids for push and hybrid), read again
-- from the last candidate while some were left out (a retweet of an account that went
-- protected), until the page is full or the timeline ends.
DECLARE
    v_ids bigint[] := '{}';
    v_read integer;
    v_row record;
BEGIN
    LOOP
        v_read := 0;
        FOR v_row IN
            SELECT c.id, c.created_at, t AS tweet
            FROM (SELECT p.id, p.created_at
                  FROM timeline_pull_ids(p_user, p_before_ts, p_before_id, p_limit) AS p
                  WHERE p_strategy = 'pull'
                  UNION ALL
                  SELECT p.id, p.created_at
                  FROM timeline_cached_ids(p_user, p_before_ts, p_before_id, p_limit,
                                           p_strategy = 'hybrid') AS p
                  WHERE p_strategy <> 'pull') AS c
            JOIN tweets AS t ON t.id = c.id
            ORDER BY c.created_at DESC, c.id DESC
        LOOP
            v_read := v_read + 1;
            p_before_ts := v_row.created_at;
            p_before_id := v_row.id;
            IF tweet_visible(p_user, v_row.tweet) THEN
                v_ids := v_ids || v_row.id;
                EXIT WHEN cardinality(v_ids) = p_limit;
            END IF;
        END LOOP;
        -- Full, or the candidates ran out (fewer than asked for: the timeline's end).
        EXIT WHEN cardinality(v_ids) >= p_limit OR v_read < p_limit;
    END LOOP;
    RETURN v_ids;
END
$$;
COMMENT ON FUNCTION home_timeline_ids(bigint, timestamptz, bigint, integer, text) IS
    'The ids of one full home-timeline page the user may see, under the given strategy.';
