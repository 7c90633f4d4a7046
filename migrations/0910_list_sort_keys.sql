-- Every sort the console's screens offer is an index walk that stops after the page (issue 13).
-- 0900 did this for the member sorts on email, username, name and role labels; this adds the
-- rest: mandates by enabled, members by the admin flag and enabled, users by name,
-- organisation (profile fields, kept on the directory row like 0900 keeps them on the
-- membership), status and enabled. Kept current by triggers in the same transactions that
-- change roles, memberships, profiles and the directory cache.

-- Members: the admin flag (a mandate-level role labelled `admin`, global or the mandate's own)
-- next to 0410's role labels, computed by the same set-based refresh.
ALTER TABLE user_mandate ADD COLUMN member_admin boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION hubdeck_refresh_member_labels(p_ids uuid[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE user_mandate um
       SET role_labels = COALESCE(agg.labels, ''), member_admin = COALESCE(agg.admin, false)
      FROM (SELECT ids.id,
                   string_agg(DISTINCT r.label, ' ' ORDER BY r.label) AS labels,
                   bool_or(r.label = 'admin' AND (r.mandate_id IS NULL OR r.mandate_id = m.mandate_id)) AS admin
              FROM (SELECT DISTINCT unnest(p_ids) AS id) ids
              JOIN user_mandate m ON m.id = ids.id
              LEFT JOIN user_mandate_role umr ON umr.user_mandate_id = ids.id
              LEFT JOIN mandate_role r ON r.id = umr.mandate_role_id AND r.feature_instance_id IS NULL
             GROUP BY ids.id) agg
     WHERE um.id = agg.id
       AND (um.role_labels IS DISTINCT FROM COALESCE(agg.labels, '')
            OR um.member_admin IS DISTINCT FROM COALESCE(agg.admin, false));
$$;

-- 0410 refreshes on a role's label or feature instance changing; the admin flag also depends
-- on the role's mandate.
CREATE TRIGGER mandate_role_admin_update AFTER UPDATE OF mandate_id ON mandate_role
    FOR EACH ROW WHEN (OLD.mandate_id IS DISTINCT FROM NEW.mandate_id)
    EXECUTE FUNCTION hubdeck_member_labels_after_role_change();

UPDATE user_mandate um
   SET member_admin = true
  FROM user_mandate_role umr
  JOIN mandate_role r ON r.id = umr.mandate_role_id AND r.feature_instance_id IS NULL
 WHERE umr.user_mandate_id = um.id AND r.label = 'admin'
   AND (r.mandate_id IS NULL OR r.mandate_id = um.mandate_id)
   AND NOT um.member_admin;

CREATE INDEX user_mandate_admin_sort_idx ON user_mandate (mandate_id, member_admin, id);
CREATE INDEX user_mandate_enabled_sort_idx ON user_mandate (mandate_id, enabled, id);

-- Mandates by enabled (the tie-breaker follows: (enabled, id)).
CREATE INDEX mandate_enabled_sort_idx ON mandate (enabled, id) WHERE deleted_at IS NULL;

-- Users: the profile's name and organisation on the directory row.
ALTER TABLE directory_user
    ADD COLUMN profile_name text,
    ADD COLUMN profile_organisation text;

UPDATE directory_user d
   SET profile_name = p.name, profile_organisation = p.organisation
  FROM user_profile p
 WHERE p.user_id = d.sub;

CREATE FUNCTION hubdeck_directory_profile_fill() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT p.name, p.organisation INTO NEW.profile_name, NEW.profile_organisation
      FROM user_profile p WHERE p.user_id = NEW.sub;
    IF NOT FOUND THEN
        NEW.profile_name := NULL;
        NEW.profile_organisation := NULL;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER directory_user_profile_fill BEFORE INSERT OR UPDATE OF sub ON directory_user
    FOR EACH ROW EXECUTE FUNCTION hubdeck_directory_profile_fill();

CREATE FUNCTION hubdeck_directory_profile_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE directory_user SET profile_name = NULL, profile_organisation = NULL
         WHERE sub = OLD.user_id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.user_id IS DISTINCT FROM NEW.user_id THEN
        UPDATE directory_user SET profile_name = NULL, profile_organisation = NULL
         WHERE sub = OLD.user_id;
    END IF;
    UPDATE directory_user SET profile_name = NEW.name, profile_organisation = NEW.organisation
     WHERE sub = NEW.user_id
       AND (profile_name IS DISTINCT FROM NEW.name
            OR profile_organisation IS DISTINCT FROM NEW.organisation);
    RETURN NULL;
END;
$$;

CREATE TRIGGER user_profile_directory_insert AFTER INSERT ON user_profile
    FOR EACH ROW EXECUTE FUNCTION hubdeck_directory_profile_changed();
CREATE TRIGGER user_profile_directory_update AFTER UPDATE OF user_id, name, organisation ON user_profile
    FOR EACH ROW EXECUTE FUNCTION hubdeck_directory_profile_changed();
CREATE TRIGGER user_profile_directory_delete AFTER DELETE ON user_profile
    FOR EACH ROW EXECUTE FUNCTION hubdeck_directory_profile_changed();

CREATE INDEX directory_user_name_sort_idx ON directory_user (lower(profile_name), sub)
    WHERE gone_at IS NULL;
CREATE INDEX directory_user_org_sort_idx ON directory_user (lower(profile_organisation), sub)
    WHERE gone_at IS NULL;
CREATE INDEX directory_user_status_sort_idx ON directory_user (status, sub) WHERE gone_at IS NULL;
CREATE INDEX directory_user_enabled_sort_idx ON directory_user (enabled, sub) WHERE gone_at IS NULL;
