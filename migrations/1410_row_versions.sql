-- Issue 28: every write is conditional on what the operator saw. Mandates, memberships and
-- users get a version the service compares inside the write's transaction; triggers bump it on
-- every change, so a write from anywhere (the hub's own API, another console, psql) makes a
-- stale form conflict instead of being silently overwritten.

ALTER TABLE mandate ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE user_mandate ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- A row update that changes anything but the version itself moves the version on by one.
CREATE FUNCTION row_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version = OLD.version AND NEW IS DISTINCT FROM OLD THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER mandate_version BEFORE UPDATE ON mandate
    FOR EACH ROW EXECUTE FUNCTION row_version_bump();
CREATE TRIGGER user_mandate_version BEFORE UPDATE ON user_mandate
    FOR EACH ROW EXECUTE FUNCTION row_version_bump();

-- A membership's roles are part of the membership: a grant or revoke moves its version.
-- Statement-level with transition tables, so a bulk grant is one UPDATE, not one per row.
CREATE FUNCTION user_mandate_role_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_mandate SET version = version + 1
     WHERE id IN (SELECT user_mandate_id FROM changed);
    RETURN NULL;
END $$;

CREATE TRIGGER user_mandate_role_version_ins AFTER INSERT ON user_mandate_role
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION user_mandate_role_version();
CREATE TRIGGER user_mandate_role_version_del AFTER DELETE ON user_mandate_role
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION user_mandate_role_version();

-- A user spans the directory cache (enabled, status, gone), the profile and the global grants;
-- no single row holds them all, so the version lives in its own row per user (absent = 0).
CREATE TABLE user_version (
    user_id uuid PRIMARY KEY,
    version bigint NOT NULL DEFAULT 1
);

-- Profiles and grants: one upsert per statement over the users it touched.
CREATE FUNCTION user_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_version AS v (user_id)
        SELECT DISTINCT user_id FROM changed ORDER BY 1
        ON CONFLICT (user_id) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER user_profile_version_ins AFTER INSERT ON user_profile
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION user_version_bump();
CREATE TRIGGER user_profile_version_upd AFTER UPDATE ON user_profile
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION user_version_bump();
CREATE TRIGGER user_profile_version_del AFTER DELETE ON user_profile
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION user_version_bump();
CREATE TRIGGER user_role_version_ins AFTER INSERT ON user_role
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION user_version_bump();
CREATE TRIGGER user_role_version_del AFTER DELETE ON user_role
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION user_version_bump();

-- The directory cache: only what the operator sees (enabled, status, gone, email) moves the
-- version; a sync refreshing `synced_at` does not. A new identity starts at 0 (no row).
CREATE FUNCTION directory_user_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_version AS v (user_id) VALUES (NEW.sub)
        ON CONFLICT (user_id) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER directory_user_version AFTER UPDATE ON directory_user FOR EACH ROW
    WHEN (NEW.enabled IS DISTINCT FROM OLD.enabled OR NEW.status IS DISTINCT FROM OLD.status
          OR NEW.gone_at IS DISTINCT FROM OLD.gone_at OR NEW.email IS DISTINCT FROM OLD.email)
    EXECUTE FUNCTION directory_user_version_bump();
