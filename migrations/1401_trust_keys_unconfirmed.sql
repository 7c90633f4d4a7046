-- Keys are handed over exactly once, or flagged. The transaction that mints a trust's keys
-- sets keys_unconfirmed_since; it is cleared (KEYS_HANDED_OVER, no key material) only once the
-- hand-over completed: the CLI wrote and flushed the keys, or the console's operator
-- acknowledged the reveal. While set, nobody is known to hold the trust's current keys.
ALTER TABLE trust ADD COLUMN keys_unconfirmed_since timestamptz;
ALTER TABLE trusts_audit DROP CONSTRAINT trusts_audit_action_check;
ALTER TABLE trusts_audit ADD CONSTRAINT trusts_audit_action_check CHECK (action IN (
    'REGISTERED', 'DELETED', 'KEY_ROTATED', 'INTERNAL_KEY_ROTATED', 'ADMIN_ADDED', 'ADMIN_REMOVED',
    'KEYS_REVEALED', 'KEYS_HANDED_OVER'));
CREATE INDEX trust_keys_unconfirmed_idx ON trust (keys_unconfirmed_since)
    WHERE keys_unconfirmed_since IS NOT NULL;
