-- LocalDirectory: software-token MFA (RFC 6238 TOTP) for the demo and development, like a
-- Cognito pool's SOFTWARE_TOKEN_MFA / MFA_SETUP. The local directory is the identity provider
-- here, so it holds the shared secret as Cognito does; hubdeck's own tables never see it.

-- Pending challenges now have a kind; a wrong MFA code counts an attempt (the session ends
-- after five).
ALTER TABLE local_auth_challenge
    ADD COLUMN kind text NOT NULL DEFAULT 'NEW_PASSWORD_REQUIRED'
        CHECK (kind IN ('NEW_PASSWORD_REQUIRED', 'SOFTWARE_TOKEN_MFA', 'MFA_SETUP')),
    ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0);

-- One software token per identity. `verified_at` NULL = an enrolment in progress (its secret
-- was shown, no code verified yet); `last_step` = the last TOTP step accepted (a code is never
-- accepted twice).
CREATE TABLE local_totp (
    sub          uuid PRIMARY KEY REFERENCES local_identity (sub) ON DELETE CASCADE,
    secret       bytea NOT NULL CHECK (octet_length(secret) BETWEEN 10 AND 64),
    verified_at  timestamptz,
    last_step    bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
