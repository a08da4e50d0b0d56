-- 0002: the JSON shape of a user and of a tweet, defined once. The API's hot
-- paths return what PostgreSQL builds, byte for byte, instead of decoding rows
-- into Python objects and encoding them again (DESIGN.md: 340 -> 775 req/s).
-- Plain SQL expressions over the row, so the planner inlines them.

CREATE FUNCTION user_json(u users) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', u.id, 'username', u.username, 'display_name', u.display_name, 'bio', u.bio,
        'is_protected', u.is_protected, 'reply_policy', u.reply_policy,
        'followers_count', u.followers_count, 'following_count', u.following_count,
        'tweet_count', u.tweet_count, 'created_at', u.created_at)
$$;
COMMENT ON FUNCTION user_json(users) IS 'A public profile as the API returns it (never the e-mail).';

CREATE FUNCTION tweet_json(t tweets) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', t.id, 'user_id', t.user_id, 'body', t.body,
        'reply_to_tweet_id', t.reply_to_tweet_id, 'original_tweet_id', t.original_tweet_id,
        'like_count', t.like_count, 'retweet_count', t.retweet_count,
        'quote_count', t.quote_count, 'reply_count', t.reply_count, 'created_at', t.created_at)
$$;
COMMENT ON FUNCTION tweet_json(tweets) IS 'A tweet as the API returns it.';

CREATE FUNCTION page_cursor(p_created_at timestamptz, p_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT ((extract(epoch FROM p_created_at) * 1000000)::bigint)::text || '_' || p_id::text
$$;
COMMENT ON FUNCTION page_cursor(timestamptz, bigint) IS
    'Keyset cursor "<microseconds since 1970>_<id>" of the last row of a page, for (created_at, id) order.';

CREATE FUNCTION user_page(p_ids bigint[], p_limit integer) RETURNS json
LANGUAGE sql STABLE AS $$
    -- Profiles in the order given; lists of users are keyset-paginated by id,
    -- so the cursor is the last id whenever the page was full.
    SELECT json_build_object(
        'users', coalesce((SELECT json_agg(user_json(u) ORDER BY page.ordinality)
                           FROM unnest(p_ids) WITH ORDINALITY AS page (id, ordinality)
                           JOIN users AS u ON u.id = page.id), '[]'::json),
        'next_cursor', CASE WHEN cardinality(p_ids) = p_limit
                            THEN p_ids[cardinality(p_ids)]::text END)
$$;
COMMENT ON FUNCTION user_page(bigint[], integer) IS
    'The JSON page {users, next_cursor} for user ids in page order.';
