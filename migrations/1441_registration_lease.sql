-- One operation at a time per registration (the saga, retry, rollback, resolve, reconcile):
-- a lease row instead of a session advisory lock, so it works through a transaction pooler
-- (no state outlives a transaction). Taken with INSERT ... ON CONFLICT DO UPDATE WHERE the
-- lease expired, released by its holder (token), taken over once expired. No foreign key:
-- a registration's lease is taken before its journal row is inserted.
CREATE TABLE registration_lease (
    registration_id uuid PRIMARY KEY,
    token uuid NOT NULL,
    -- Who holds it, as the refusal names them ("being repaired by X since T").
    holder text NOT NULL,
    since timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
