-- hubdeck demo / benchmark dataset marker (store::dataset).
-- One row when the database holds a generated dataset: the generator's spec and its hash, so a
-- demo or benchmark run re-uses an unchanged dataset instead of generating it again.
CREATE TABLE demo_dataset (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    spec_hash    text NOT NULL,
    spec         jsonb NOT NULL,
    generated_at timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now()
);
