-- A sealed audit trail. Every audit row records the transaction that wrote it (`seal_txid`,
-- 64-bit, from txid_current()). A seal covers the rows in the order (seal_txid, source, id) up to
-- a horizon below which every transaction has finished, so a transaction still open when a seal
-- is made lands in a later seal with its real position, however old its timestamps are.
-- Rows written before this migration get 0: they belong to the first seal.
ALTER TABLE mandate_audit ADD COLUMN seal_txid bigint NOT NULL DEFAULT 0;
ALTER TABLE mandate_audit ALTER COLUMN seal_txid SET DEFAULT txid_current();
ALTER TABLE users_audit ADD COLUMN seal_txid bigint NOT NULL DEFAULT 0;
ALTER TABLE users_audit ALTER COLUMN seal_txid SET DEFAULT txid_current();
ALTER TABLE trusts_audit ADD COLUMN seal_txid bigint NOT NULL DEFAULT 0;
ALTER TABLE trusts_audit ALTER COLUMN seal_txid SET DEFAULT txid_current();

CREATE INDEX mandate_audit_seal_idx ON mandate_audit (seal_txid, id);
CREATE INDEX users_audit_seal_idx ON users_audit (seal_txid, id);
CREATE INDEX trusts_audit_seal_idx ON trusts_audit (seal_txid, id);

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
