-- A sealed audit trail. Every audit row records the transaction that wrote it (`change_xid`,
-- migration 1450). A seal covers the rows in the order (change_xid, source, id) up to
-- a horizon below which every transaction has finished, so a transaction still open when a seal
-- is made lands in a later seal with its real position, however old its timestamps are.
-- Rows written before migration 1450 carry 0: they belong to the first seal.

-- One row per seal, chained: hash = SHA-256 over the previous seal's hash and this seal's
-- range, row count and rows digest; signed with an Ed25519 key that is not in the database.
CREATE TABLE audit_seal (
    seq          bigint PRIMARY KEY,
    sealed_at    timestamptz NOT NULL DEFAULT now(),
    horizon      bigint NOT NULL,
    last_txid    bigint NOT NULL,
    last_source  smallint NOT NULL,
    last_id      uuid NOT NULL,
    row_count    bigint NOT NULL,
    rows_digest  bytea NOT NULL,
    row_list     bytea NOT NULL,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL,
    public_key   bytea NOT NULL,
    signature    bytea NOT NULL
);
CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION hubdeck_refuse_audit_change();
CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION hubdeck_refuse_audit_change();
