-- Members list: each membership carries its mandate-level role labels (feature-instance roles
-- excluded, de-duplicated, sorted, space-separated) so search and sort over labels read one
-- trigram-indexed column instead of aggregating every member's roles per query.
-- Maintained by statement-level triggers, so bulk inserts stay set-based.

ALTER TABLE user_mandate ADD COLUMN role_labels text NOT NULL DEFAULT '';

CREATE FUNCTION hubdeck_refresh_member_labels(p_ids uuid[]) RETURNS void
LANGUAGE sql AS $$
    -- Set-based: aggregate the touched memberships' labels once, then join.
    UPDATE user_mandate um
       SET role_labels = COALESCE(agg.labels, '')
      FROM (SELECT ids.id,
                   string_agg(DISTINCT r.label, ' ' ORDER BY r.label) AS labels
              FROM (SELECT DISTINCT unnest(p_ids) AS id) ids
              LEFT JOIN user_mandate_role umr ON umr.user_mandate_id = ids.id
              LEFT JOIN mandate_role r ON r.id = umr.mandate_role_id AND r.feature_instance_id IS NULL
             GROUP BY ids.id) agg
     WHERE um.id = agg.id AND um.role_labels IS DISTINCT FROM COALESCE(agg.labels, '');
$$;

CREATE FUNCTION hubdeck_member_labels_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hubdeck_refresh_member_labels(ARRAY(SELECT DISTINCT user_mandate_id FROM new_rows));
    RETURN NULL;
END;
$$;

CREATE FUNCTION hubdeck_member_labels_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hubdeck_refresh_member_labels(ARRAY(SELECT DISTINCT user_mandate_id FROM old_rows));
    RETURN NULL;
END;
$$;

CREATE FUNCTION hubdeck_member_labels_after_role_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hubdeck_refresh_member_labels(
        ARRAY(SELECT user_mandate_id FROM user_mandate_role WHERE mandate_role_id = NEW.id));
    RETURN NULL;
END;
$$;

CREATE TRIGGER user_mandate_role_labels_insert AFTER INSERT ON user_mandate_role
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION hubdeck_member_labels_after_insert();
CREATE TRIGGER user_mandate_role_labels_delete AFTER DELETE ON user_mandate_role
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION hubdeck_member_labels_after_delete();
CREATE TRIGGER mandate_role_labels_update AFTER UPDATE OF label, feature_instance_id ON mandate_role
    FOR EACH ROW EXECUTE FUNCTION hubdeck_member_labels_after_role_change();

-- Backfill existing memberships.
UPDATE user_mandate um
   SET role_labels = agg.labels
  FROM (SELECT umr.user_mandate_id AS id, string_agg(DISTINCT r.label, ' ' ORDER BY r.label) AS labels
          FROM user_mandate_role umr
          JOIN mandate_role r ON r.id = umr.mandate_role_id AND r.feature_instance_id IS NULL
         GROUP BY umr.user_mandate_id) agg
 WHERE um.id = agg.id;

CREATE INDEX user_mandate_role_labels_trgm ON user_mandate USING gin (role_labels gin_trgm_ops);
