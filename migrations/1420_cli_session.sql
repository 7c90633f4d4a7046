-- Sessions of `hubdeck login`: the CLI acts as the signed-in operator. Only a SHA-256 of the
-- random session token is stored (the token lives in a 0600 file of the person who signed in),
-- so a copy of this table signs nobody in. `hubdeck logout` deletes the row; an expired row is
-- refused and removed by the next sign-in of the same operator.
CREATE TABLE cli_session (
    token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    sub        uuid NOT NULL,
    email      text NOT NULL,
    -- The OS account that signed in ("hubdeck (sudo from alice)"), for the operator's record.
    os_user    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX cli_session_sub_idx ON cli_session (sub);
