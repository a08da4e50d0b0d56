-- Tokens that end (issue 27, item 16): each expires (LAB_TOKEN_TTL_S after it was
-- issued, 30 days by default) and can be revoked (DELETE /me/token) or exchanged
-- for a new one (POST /me/token). Tokens issued before this migration get 30 days.

ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz NOT NULL
    DEFAULT now() + interval '30 days';
COMMENT ON COLUMN api_tokens.expires_at IS
    'After this the token authenticates nobody; the API sets it from LAB_TOKEN_TTL_S.';
