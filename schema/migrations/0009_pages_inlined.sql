-- 0009: a page of tweets encoded in one pass, with no function executed per row.
-- Under `make run`'s load (1000 users, mixed, push, small) pg_stat_statements counted
-- tweet_json's json_build_object as a statement of its own 759,917 times and
-- tweet_visibility's body 277,268 times in two minutes: both ran once per tweet of every
-- page. tweet_json_for handed tweet_json an expensive ROW(...) argument that its body reads
-- ten times, and PostgreSQL inlines an SQL function only when such an argument is used at
-- most once; its reference checks called tweet_id_visible, which has a subquery and is
-- never inlined. Measured with pgbench (2 clients, prepared, random viewers, first pages of
-- 50, small seed): page_json 1,231 pages/s before this migration.
-- Now the JSON shape lives in tweet_json_with, whose arguments are each read once or are
-- plain columns, so it inlines everywhere; page_json checks the replied-to and quoted
-- references with LATERAL joins to the inlined tweet rule, like any other row filter.

CREATE FUNCTION tweet_json_with(t tweets, p_reply_to bigint, p_original bigint) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', t.id, 'user_id', t.user_id, 'body', t.body,
        'reply_to_tweet_id', p_reply_to, 'original_tweet_id', p_original,
        'like_count', t.like_count, 'retweet_count', t.retweet_count,
        'quote_count', t.quote_count, 'reply_count', t.reply_count, 'created_at', t.created_at)
$$;
COMMENT ON FUNCTION tweet_json_with(tweets, bigint, bigint) IS
    'A tweet as the API returns it, with the references it may show (NULL: left out). '
    'The one place of the tweet''s JSON shape; inlined where it is called.';

CREATE OR REPLACE FUNCTION tweet_json(t tweets) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT tweet_json_with(t, t.reply_to_tweet_id, t.original_tweet_id)
$$;

CREATE OR REPLACE FUNCTION tweet_json_for(p_viewer bigint, t tweets) RETURNS json
LANGUAGE sql STABLE AS $$
    -- tweet_json, with the id of a replied-to or quoted tweet left out (NULL) when the
    -- viewer may not see that tweet.
    SELECT tweet_json_with(t,
        CASE WHEN t.reply_to_tweet_id IS NOT NULL
                  AND tweet_id_visible(p_viewer, t.reply_to_tweet_id) THEN t.reply_to_tweet_id END,
        CASE WHEN t.original_tweet_id IS NOT NULL
                  AND tweet_id_visible(p_viewer, t.original_tweet_id) THEN t.original_tweet_id END)
$$;

CREATE OR REPLACE FUNCTION page_json(p_viewer bigint, p_ids bigint[], p_limit integer)
RETURNS json
LANGUAGE sql STABLE AS $$
    -- The tweets of p_ids in the order given; the cursor is the last of them whenever the
    -- page is full. The caller has left out what the viewer may not see; references to
    -- tweets the viewer may not see are left out here (the tweet rule, joined).
    SELECT json_build_object(
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
                        WHERE cardinality(p_ids) >= p_limit AND t.id = p_ids[cardinality(p_ids)]))
$$;

-- home_timeline_ids filtered its candidates in a statement PL/pgSQL planned anew at every
-- call: with plan_cache_mode auto a cached plan is kept only when its estimate is close to
-- the custom plans', and this one (two strategies' branches, the rule inlined twice) never
-- was, so every page paid several milliseconds of planning (EXPLAIN: planning 4.1 ms,
-- execution 1.0 ms). The statement's plan does not depend on its parameters' values (index
-- lookups by key, whichever strategy's branch runs), so it is planned once per session.
-- pgbench as above: home_timeline_ids 695 -> 2,044 calls/s, a push home page with its JSON
-- 456 -> 1,033 pages/s.
ALTER FUNCTION home_timeline_ids(bigint, timestamptz, bigint, integer, text)
    SET plan_cache_mode = force_generic_plan;
