-- Members at 100,000 (issue 13): what a member list sorts and searches on lives on the
-- membership, so a page of one mandate is an index walk on (mandate_id, sort key, id) and a
-- search one trigram bitmap — no join of every membership to the directory cache.
-- Kept current by triggers in the same transactions that change memberships, the directory
-- cache (username, email) and profiles (name); role labels come from 0410's `role_labels`.

ALTER TABLE user_mandate
    ADD COLUMN member_username text,
    ADD COLUMN member_email text,
    ADD COLUMN member_name text;

-- Filled before the generated column exists, so the table is rewritten once.
UPDATE user_mandate um
   SET member_username = s.username, member_email = s.email, member_name = s.name
  FROM (SELECT um2.id, du.username, du.email, up.name
          FROM user_mandate um2
          LEFT JOIN directory_user du ON du.sub = um2.user_id
          LEFT JOIN user_profile up ON up.user_id = um2.user_id) s
 WHERE s.id = um.id AND (s.username IS NOT NULL OR s.email IS NOT NULL OR s.name IS NOT NULL);

-- One text for the search: the fields joined by a newline (a search term never spans two).
ALTER TABLE user_mandate ADD COLUMN member_search text GENERATED ALWAYS AS (
    coalesce(member_username, '') || E'\n' || coalesce(member_email, '') || E'\n' ||
    coalesce(member_name, '') || E'\n' || role_labels) STORED;

CREATE FUNCTION hubdeck_member_fill() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT du.username, du.email INTO NEW.member_username, NEW.member_email
      FROM directory_user du WHERE du.sub = NEW.user_id;
    IF NOT FOUND THEN
        NEW.member_username := NULL;
        NEW.member_email := NULL;
    END IF;
    SELECT up.name INTO NEW.member_name FROM user_profile up WHERE up.user_id = NEW.user_id;
    IF NOT FOUND THEN
        NEW.member_name := NULL;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER user_mandate_member_fill BEFORE INSERT OR UPDATE OF user_id ON user_mandate
    FOR EACH ROW EXECUTE FUNCTION hubdeck_member_fill();

CREATE FUNCTION hubdeck_member_directory_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE user_mandate SET member_username = NULL, member_email = NULL
         WHERE user_id = OLD.sub;
        RETURN NULL;
    END IF;
    UPDATE user_mandate SET member_username = NEW.username, member_email = NEW.email
     WHERE user_id = NEW.sub
       AND (member_username IS DISTINCT FROM NEW.username OR member_email IS DISTINCT FROM NEW.email);
    RETURN NULL;
END;
$$;

CREATE TRIGGER directory_user_member_insert AFTER INSERT ON directory_user
    FOR EACH ROW EXECUTE FUNCTION hubdeck_member_directory_changed();
CREATE TRIGGER directory_user_member_update AFTER UPDATE OF username, email ON directory_user
    FOR EACH ROW WHEN (OLD.username IS DISTINCT FROM NEW.username OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION hubdeck_member_directory_changed();
CREATE TRIGGER directory_user_member_delete AFTER DELETE ON directory_user
    FOR EACH ROW EXECUTE FUNCTION hubdeck_member_directory_changed();

CREATE FUNCTION hubdeck_member_profile_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE user_mandate SET member_name = NULL WHERE user_id = OLD.user_id;
        RETURN NULL;
    END IF;
    UPDATE user_mandate SET member_name = NEW.name
     WHERE user_id = NEW.user_id AND member_name IS DISTINCT FROM NEW.name;
    RETURN NULL;
END;
$$;

CREATE TRIGGER user_profile_member_insert AFTER INSERT ON user_profile
    FOR EACH ROW EXECUTE FUNCTION hubdeck_member_profile_changed();
CREATE TRIGGER user_profile_member_update AFTER UPDATE OF name ON user_profile
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION hubdeck_member_profile_changed();
CREATE TRIGGER user_profile_member_delete AFTER DELETE ON user_profile
    FOR EACH ROW EXECUTE FUNCTION hubdeck_member_profile_changed();

CREATE INDEX user_mandate_email_sort_idx ON user_mandate (mandate_id, lower(member_email), id);
CREATE INDEX user_mandate_username_sort_idx ON user_mandate (mandate_id, lower(member_username), id);
CREATE INDEX user_mandate_name_sort_idx ON user_mandate (mandate_id, lower(member_name), id);
CREATE INDEX user_mandate_labels_sort_idx ON user_mandate (mandate_id, role_labels, id);
CREATE INDEX user_mandate_search_trgm ON user_mandate USING gin (member_search gin_trgm_ops);

-- Registrations list through the query builder: substring search on the email.
CREATE INDEX registration_email_trgm ON registration USING gin (email gin_trgm_ops);
CREATE INDEX registration_state_created_idx ON registration (state, created_at, id);
