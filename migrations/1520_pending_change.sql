-- Two-person approval. An action the environment puts under the rule is not executed when it
-- is asked for: it becomes a pending change holding the exact preview the proposer confirmed
-- (every target row, before -> after), that preview's fingerprint, the proposer's reason and an
-- expiry. A second operator approves (executed only while the targets still match the
-- fingerprint, else void) or rejects it with a reason. No secret is ever stored here: keys of
-- an approved rotation are minted when the proposer completes it.
CREATE TABLE pending_change (
    id              bigserial PRIMARY KEY,
    action          text NOT NULL,
    request         jsonb NOT NULL,
    preview         jsonb NOT NULL,
    fingerprint     text NOT NULL,
    reason          text NOT NULL CHECK (length(btrim(reason)) > 0),
    proposer_sub    uuid,
    proposer        text NOT NULL,
    proposer_via    text NOT NULL CHECK (proposer_via IN ('tui', 'cli', 'system')),
    proposer_os_user text,
    proposed_at     timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'proposed'
                    CHECK (state IN ('proposed', 'approved', 'rejected', 'expired', 'executed', 'void')),
    decided_by_sub  uuid,
    decided_by      text,
    decided_at      timestamptz,
    decision_note   text,
    executed_at     timestamptz,
    outcome         text
);
CREATE INDEX pending_change_open_idx ON pending_change (expires_at) WHERE state IN ('proposed', 'approved');

-- The lifecycle rows land in the audit table of the target (trusts here).
ALTER TABLE trusts_audit DROP CONSTRAINT trusts_audit_action_check;
ALTER TABLE trusts_audit ADD CONSTRAINT trusts_audit_action_check CHECK (action IN (
    'REGISTERED', 'DELETED', 'KEY_ROTATED', 'INTERNAL_KEY_ROTATED', 'ADMIN_ADDED', 'ADMIN_REMOVED',
    'KEYS_REVEALED', 'KEYS_HANDED_OVER', 'APPROVAL_PROPOSED', 'APPROVAL_APPROVED',
    'APPROVAL_REJECTED', 'APPROVAL_EXPIRED', 'APPROVAL_VOID', 'APPROVAL_EXECUTED'));
