-- Undo of grant changes (issue #15): the audit row an undo writes names the row it undoes in
-- its details ("undoes": <audit id>); this column exposes that link for lookups and the unique
-- index lets each audit row be undone at most once, even when two operators undo it at the
-- same moment. The audit tables stay append-only (the column is generated, never updated).
ALTER TABLE mandate_audit
    ADD COLUMN undoes uuid GENERATED ALWAYS AS ((details ->> 'undoes')::uuid) STORED;
CREATE UNIQUE INDEX mandate_audit_undoes_key ON mandate_audit (undoes) WHERE undoes IS NOT NULL;

ALTER TABLE users_audit
    ADD COLUMN undoes uuid GENERATED ALWAYS AS ((details ->> 'undoes')::uuid) STORED;
CREATE UNIQUE INDEX users_audit_undoes_key ON users_audit (undoes) WHERE undoes IS NOT NULL;
