-- Issue 14: the internal-service key is rotated on its own (INTERNAL_KEY_ROTATED), and the
-- trust detail shows each key's age. Existing trusts get the time of their last rotation from
-- the audit trail (read, never edited), else their creation.
ALTER TABLE trusts_audit DROP CONSTRAINT trusts_audit_action_check;
ALTER TABLE trusts_audit ADD CONSTRAINT trusts_audit_action_check CHECK (action IN (
    'REGISTERED', 'DELETED', 'KEY_ROTATED', 'INTERNAL_KEY_ROTATED', 'ADMIN_ADDED', 'ADMIN_REMOVED'));

ALTER TABLE trust ADD COLUMN api_key_rotated_at timestamptz;
ALTER TABLE trust ADD COLUMN internal_key_rotated_at timestamptz;

UPDATE trust t SET
    api_key_rotated_at = COALESCE(
        (SELECT max(a.audit_date) FROM trusts_audit a
          WHERE a.trust_id = t.id AND a.action = 'KEY_ROTATED'),
        t.created_at),
    internal_key_rotated_at = COALESCE(
        (SELECT max(a.audit_date) FROM trusts_audit a
          WHERE a.trust_id = t.id AND (a.action = 'INTERNAL_KEY_ROTATED'
             OR (a.action = 'KEY_ROTATED'
                 AND a.details ->> 'internal_service_key_rotated' = 'true'))),
        t.created_at);

ALTER TABLE trust ALTER COLUMN api_key_rotated_at SET DEFAULT now();
ALTER TABLE trust ALTER COLUMN api_key_rotated_at SET NOT NULL;
ALTER TABLE trust ALTER COLUMN internal_key_rotated_at SET DEFAULT now();
ALTER TABLE trust ALTER COLUMN internal_key_rotated_at SET NOT NULL;
