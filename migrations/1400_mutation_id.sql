-- Every mutation can find out whether it committed. A mutation chooses an id before its
-- transaction and sets it as the transaction-local setting `hubdeck.mutation_id` (set_config
-- with is_local = true: it ends with the transaction, so a transaction pooler's next client
-- never inherits it). Every audit row written in that transaction takes the id by default,
-- without any insert naming the column. When the answer to COMMIT is lost, hubdeck asks on a
-- fresh connection whether a row with that id exists. Rows written before this migration, and
-- by transactions that set no id, keep NULL.
ALTER TABLE users_audit ADD COLUMN mutation_id uuid;
ALTER TABLE trusts_audit ADD COLUMN mutation_id uuid;
ALTER TABLE mandate_audit ADD COLUMN mutation_id uuid;
ALTER TABLE users_audit ALTER COLUMN mutation_id
    SET DEFAULT NULLIF(current_setting('hubdeck.mutation_id', true), '')::uuid;
ALTER TABLE trusts_audit ALTER COLUMN mutation_id
    SET DEFAULT NULLIF(current_setting('hubdeck.mutation_id', true), '')::uuid;
ALTER TABLE mandate_audit ALTER COLUMN mutation_id
    SET DEFAULT NULLIF(current_setting('hubdeck.mutation_id', true), '')::uuid;
-- One mutation may write several audit rows (a bulk change): the lookup index is not unique.
CREATE INDEX users_audit_mutation_idx ON users_audit (mutation_id) WHERE mutation_id IS NOT NULL;
CREATE INDEX trusts_audit_mutation_idx ON trusts_audit (mutation_id) WHERE mutation_id IS NOT NULL;
CREATE INDEX mandate_audit_mutation_idx ON mandate_audit (mutation_id) WHERE mutation_id IS NOT NULL;
