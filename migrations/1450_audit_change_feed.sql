-- hubdeck 1450: the audit tables as a change feed for the console's live view.
--
-- Every change writes its audit row in its own transaction, so the audit tables already list
-- every committed change. Their ids are random uuids, so a poll needs an ordered key of its
-- own: the id of the transaction that wrote the row (xid8, never wraps). A console polls
-- "rows of transactions not yet known finished" (change_xid >= the xmin of its last snapshot)
-- and moves that mark forward to the xmin of each new snapshot: every transaction below it
-- has ended, so no row can appear there later — nothing committed late is missed, unlike a
-- sequence or a timestamp, whose order is not the commit order.
--
-- Rows written before this migration get 0 (a constant default: no rewrite of the existing
-- rows); the audit seals put them first. The index on (change_xid, id) also serves the seals'
-- walk in that order.
-- the default adds
-- no work to a writing transaction (it has its xid already), and unlike NOTIFY it takes no
-- lock at commit, and it works through a transaction-mode connection pooler.
ALTER TABLE users_audit ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE users_audit ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX users_audit_change_xid_idx ON users_audit (change_xid, id);

ALTER TABLE trusts_audit ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE trusts_audit ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX trusts_audit_change_xid_idx ON trusts_audit (change_xid, id);

ALTER TABLE mandate_audit ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE mandate_audit ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX mandate_audit_change_xid_idx ON mandate_audit (change_xid, id);
