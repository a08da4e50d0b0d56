-- The beginner's design the seed warns against, kept to measure the difference.
-- Applied to its own database (`lab migrate --variant naive`), never on top of
-- the migrations. What it lacks, on purpose:
--   * one `follows` table instead of the mirrored following/followers pair, so
--     "whom does A follow" and "who follows B" cannot both be one index range;
--   * no composite (user_id, created_at) timeline index on tweets, so a
--     timeline filters by author and then sorts;
--   * 32-bit serial keys and no exact counters (counts are computed).

CREATE TABLE users (
    id           serial PRIMARY KEY,
    username     text NOT NULL UNIQUE,
    email        text NOT NULL UNIQUE,
    display_name text NOT NULL,
    bio          text NOT NULL DEFAULT '',
    is_private   boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tweets (
    id                serial PRIMARY KEY,
    user_id           integer NOT NULL REFERENCES users (id),
    body              text,
    reply_to_tweet_id integer REFERENCES tweets (id),
    original_tweet_id integer REFERENCES tweets (id),
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- Only the single-column index a beginner adds for the foreign key.
CREATE INDEX tweets_user_id_idx ON tweets (user_id);

CREATE TABLE follows (
    follower_id integer NOT NULL REFERENCES users (id),
    followee_id integer NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id)
);

CREATE TABLE likes (
    user_id    integer NOT NULL REFERENCES users (id),
    tweet_id   integer NOT NULL REFERENCES tweets (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, tweet_id)
);
