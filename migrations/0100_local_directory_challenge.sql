-- LocalDirectory: pending NEW_PASSWORD_REQUIRED challenges. Only a SHA-256 of the session
-- token is stored; the token itself lives in the operator's process.
CREATE TABLE local_auth_challenge (
    session_hash text PRIMARY KEY CHECK (session_hash ~ '^[0-9a-f]{64}$'),
    sub          uuid NOT NULL REFERENCES local_identity (sub) ON DELETE CASCADE,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX local_auth_challenge_sub_idx ON local_auth_challenge (sub);
