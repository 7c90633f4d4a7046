-- Issue 14: one action vocabulary over the three audit tables. The rows are never edited: the
-- raw `action` stays as written, and the view gains `event`, the canonical code every reader
-- shows and filters by (the console and the CLI map codes to labels). Legacy spellings
-- (`DISABLED`, `ROLES_CHANGED`, `Disabled user`, `Updated user roles`, ...) map to one code.
CREATE FUNCTION audit_event_code(source text, action text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE source
  WHEN 'users' THEN CASE action
      WHEN 'Registered user' THEN 'USER_REGISTERED'
      WHEN 'REGISTERED' THEN 'USER_REGISTERED'
      WHEN 'Seeded user' THEN 'USER_SEEDED'
      WHEN 'Updated user roles' THEN 'USER_ROLES_CHANGED'
      WHEN 'ROLES_CHANGED' THEN 'USER_ROLES_CHANGED'
      WHEN 'ROLES_SET' THEN 'USER_ROLES_CHANGED'
      WHEN 'Disabled user' THEN 'USER_DISABLED'
      WHEN 'DISABLED' THEN 'USER_DISABLED'
      WHEN 'Enabled user' THEN 'USER_ENABLED'
      WHEN 'ENABLED' THEN 'USER_ENABLED'
      WHEN 'Deleted user' THEN 'USER_DELETED'
      WHEN 'DELETED' THEN 'USER_DELETED'
      WHEN 'Updated user profile' THEN 'USER_PROFILE_UPDATED'
      WHEN 'Resent invitation' THEN 'USER_INVITATION_RESENT'
      WHEN 'Rolled back registration' THEN 'REGISTRATION_ROLLED_BACK'
      WHEN 'Resolved registration' THEN 'REGISTRATION_RESOLVED'
      ELSE upper(regexp_replace(btrim(action), '[^A-Za-z0-9]+', '_', 'g')) END
  WHEN 'trusts' THEN CASE action
      WHEN 'REGISTERED' THEN 'TRUST_REGISTERED'
      WHEN 'KEY_ROTATED' THEN 'TRUST_KEY_ROTATED'
      WHEN 'INTERNAL_KEY_ROTATED' THEN 'TRUST_INTERNAL_KEY_ROTATED'
      WHEN 'DELETED' THEN 'TRUST_DELETED'
      ELSE upper(regexp_replace(btrim(action), '[^A-Za-z0-9]+', '_', 'g')) END
  ELSE CASE action
      WHEN 'MEMBER_ADDED_AS_ADMIN' THEN 'MEMBER_ADDED'
      ELSE upper(regexp_replace(btrim(action), '[^A-Za-z0-9]+', '_', 'g')) END
END
$$;

-- Same columns, one more at the end (CREATE OR REPLACE VIEW may only append).
CREATE OR REPLACE VIEW audit_event AS
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
           a.details,
           audit_event_code('users', a.action) AS event
      FROM users_audit a
    UNION ALL
    SELECT 'trusts'::text, t.id, t.audit_date, t.modified_by_user_id, t.via, t.os_user, t.action,
           t.trust_id, t.trust_name, t.subject_user_id, t.details,
           audit_event_code('trusts', t.action)
      FROM trusts_audit t
    UNION ALL
    SELECT 'mandates'::text, m.id, m.created_at, m.actor_user_id, m.via, m.os_user, m.action,
           m.mandate_id, m.mandate_name, m.target_user_id, m.details,
           audit_event_code('mandates', m.action)
      FROM mandate_audit m;

-- The event filter walks these like the raw action indexes of 0400.
CREATE INDEX users_audit_event_idx ON users_audit (audit_event_code('users', action), "timestamp" DESC);
CREATE INDEX trusts_audit_event_idx ON trusts_audit (audit_event_code('trusts', action), audit_date DESC);
CREATE INDEX mandate_audit_event_idx ON mandate_audit (audit_event_code('mandates', action), created_at DESC);
