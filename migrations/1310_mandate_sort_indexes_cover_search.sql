-- A search over mandates may walk the sort index a bounded number of rows keeping the matches
-- (issue 13, `Plan::Probe`). The search reads `name` and `label`; with both in the sort
-- indexes the walk is an index-only scan (no heap visit per walked row): at 1,000,000 mandates
-- a walk of 5,000 rows that finds nothing costs about 5 ms instead of 25–30 ms.
DROP INDEX mandate_name_idx;
CREATE INDEX mandate_name_idx ON mandate (name, id) INCLUDE (label) WHERE deleted_at IS NULL;
DROP INDEX mandate_label_idx;
CREATE INDEX mandate_label_idx ON mandate (label, id) INCLUDE (name) WHERE deleted_at IS NULL;
DROP INDEX mandate_enabled_name_idx;
CREATE INDEX mandate_enabled_name_idx ON mandate (enabled, name, id) INCLUDE (label)
    WHERE deleted_at IS NULL;
DROP INDEX mandate_plan_name_idx;
CREATE INDEX mandate_plan_name_idx ON mandate (plan_key, name, id) INCLUDE (label)
    WHERE deleted_at IS NULL;
