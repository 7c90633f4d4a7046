-- hubdeck 0400: mandates, members and the audit listing (issue 6).

-- Members of one mandate, newest first / oldest first (members page default sort).
CREATE INDEX user_mandate_mandate_created_idx ON user_mandate (mandate_id, created_at, id);
-- Admin lookups by user (mandate-admin scoping of the mandates list).
CREATE INDEX user_mandate_user_enabled_idx ON user_mandate (user_id, mandate_id) WHERE enabled;
-- Purge: soft-deleted mandates by age.
CREATE INDEX mandate_deleted_at_idx ON mandate (deleted_at, id) WHERE deleted_at IS NOT NULL;
-- Audit filters by action.
CREATE INDEX mandate_audit_action_idx ON mandate_audit (action, created_at DESC);
CREATE INDEX users_audit_action_idx ON users_audit (action, "timestamp" DESC);
CREATE INDEX trusts_audit_action_idx ON trusts_audit (action, audit_date DESC);
-- Undelivered/delivered notifications of a mandate (hard delete removes them).
CREATE INDEX notification_mandate_idx ON notification (mandate_id) WHERE mandate_id IS NOT NULL;

-- One listing over the three append-only audit tables.
CREATE VIEW audit_event AS
    SELECT 'users'::text       AS source,
           a.id,
           a."timestamp"       AS occurred_at,
           a.modified_by_user_id AS actor_user_id,
           a.via,
           a.os_user,
           a.action,
           a.user_id           AS subject_id,
           NULL::text          AS subject_name,
           a.user_id           AS target_user_id,
           a.details
      FROM users_audit a
    UNION ALL
    SELECT 'trusts'::text, t.id, t.audit_date, t.modified_by_user_id, t.via, t.os_user, t.action,
           t.trust_id, t.trust_name, t.subject_user_id, t.details
      FROM trusts_audit t
    UNION ALL
    SELECT 'mandates'::text, m.id, m.created_at, m.actor_user_id, m.via, m.os_user, m.action,
           m.mandate_id, m.mandate_name, m.target_user_id, m.details
      FROM mandate_audit m;
