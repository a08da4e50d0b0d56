-- 0017: page_json in PL/pgSQL, so a client that does not prepare its statements stops
-- paying for page_json's body on every one.
-- Planning a statement that calls an SQL function, PostgreSQL first tries to inline it,
-- and to find out whether it can, it parses and analyses the function's body. page_json's
-- body has subqueries, so it is never inlined, but the attempt is made again for every
-- statement planned: a prepared statement plans once, an unprepared one (the extended
-- protocol without prepare, as through PgBouncer 1.18 in transaction mode) every time.
-- Measured on a copy of the `large` template (EXPLAIN SUMMARY, one timeline page): the
-- push timeline statement planned in 0.19 ms with the SQL function, 0.03 ms with this one;
-- pgbench, 2 clients, timelines of random readers with an open cache, extended protocol,
-- six pairs: 680-832 against 774-888 pages/s (1.06x to 1.16x, median 1.135x); prepared,
-- three pairs: 936-1,116 against 944-1,005 (no difference beyond the noise). PL/pgSQL
-- keeps the body's plan for the session, so it is planned once per backend whatever the
-- client does. Forcing a generic plan on it (as 0009 does for home_timeline_ids) was no
-- better in three more pairs (916-955 against 893-1,008), so it is left to choose.
-- In `lab connections` at `small` (PgBouncer path, 3 rounds, A B A B): saturating at 1000
-- clients 970 and 1,023 requests/s before, 1,182 and 1,234 after.
-- The body is unchanged (0009): the tweet rule and the JSON shape still inline into it.

CREATE OR REPLACE FUNCTION page_json(p_viewer bigint, p_ids bigint[], p_limit integer)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- The tweets of p_ids in the order given; the cursor is the last of them whenever the
    -- page is full. The caller has left out what the viewer may not see; references to
    -- tweets the viewer may not see are left out here (the tweet rule, joined).
    RETURN (SELECT json_build_object(
        'tweets', coalesce((
            SELECT json_agg(tweet_json_with(t, CASE WHEN r.visible THEN t.reply_to_tweet_id END,
                                            CASE WHEN o.visible THEN t.original_tweet_id END)
                            ORDER BY page.ordinality)
            FROM unnest(p_ids) WITH ORDINALITY AS page (id, ordinality)
            JOIN tweets AS t ON t.id = page.id
            LEFT JOIN LATERAL tweet_visibility(p_viewer, t.reply_to_tweet_id) AS r
                ON t.reply_to_tweet_id IS NOT NULL
            LEFT JOIN LATERAL tweet_visibility(p_viewer, t.original_tweet_id) AS o
                ON t.original_tweet_id IS NOT NULL), '[]'::json),
        'next_cursor', (SELECT page_cursor(t.created_at, t.id) FROM tweets AS t
                        WHERE cardinality(p_ids) >= p_limit
                          AND t.id = p_ids[cardinality(p_ids)])));
END
$$;
COMMENT ON FUNCTION page_json(bigint, bigint[], integer) IS
    'The JSON page {tweets, next_cursor} of ids already filtered for the viewer, in page '
    'order (PL/pgSQL: its plan is kept per session, not remade for each statement).';
