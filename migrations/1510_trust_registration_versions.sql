-- Trusts and registrations get a version too, so a rotate, a delete or a registration repair
-- is conditional on what its operator saw, like the mandate, membership and user writes.

-- A trust's version moves on when what an operator sees or acts on changes (name, code,
-- region, keys, the hand-over mark) — not on the hub's heartbeat, which would make every
-- open confirmation stale within seconds for no reason.
ALTER TABLE trust ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION trust_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version = OLD.version
       AND (NEW.name, NEW.code, NEW.region, NEW.api_key_hash, NEW.api_key_rotated_at,
            NEW.internal_key_rotated_at, NEW.keys_unconfirmed_since)
           IS DISTINCT FROM
           (OLD.name, OLD.code, OLD.region, OLD.api_key_hash, OLD.api_key_rotated_at,
            OLD.internal_key_rotated_at, OLD.keys_unconfirmed_since) THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER trust_version BEFORE UPDATE ON trust
    FOR EACH ROW EXECUTE FUNCTION trust_version_bump();

-- Every change of a registration row (state, sub, errors, note) moves its version.
ALTER TABLE registration ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE TRIGGER registration_version BEFORE UPDATE ON registration
    FOR EACH ROW EXECUTE FUNCTION row_version_bump();
