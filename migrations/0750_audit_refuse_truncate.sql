-- The audit tables are append-only: the row triggers of 0001 refuse UPDATE and DELETE, and
-- these statement triggers refuse TRUNCATE (which fires no row trigger), with the same error.
CREATE TRIGGER users_audit_no_truncate BEFORE TRUNCATE ON users_audit
    FOR EACH STATEMENT EXECUTE FUNCTION hubdeck_refuse_audit_change();
CREATE TRIGGER trusts_audit_no_truncate BEFORE TRUNCATE ON trusts_audit
    FOR EACH STATEMENT EXECUTE FUNCTION hubdeck_refuse_audit_change();
CREATE TRIGGER mandate_audit_no_truncate BEFORE TRUNCATE ON mandate_audit
    FOR EACH STATEMENT EXECUTE FUNCTION hubdeck_refuse_audit_change();
