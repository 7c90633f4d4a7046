-- hubdeck 0700 (issue 17): live mandate names are unique case-insensitively, enforced by the
-- database; a soft delete remembers the enabled state so that restore brings it back.

-- 1. Live duplicates already stored (same lower(name)) are resolved deterministically: in each
--    group the oldest mandate (created_at, then id) keeps its name; every other one is renamed
--    to "<name> (duplicate <id>)" — unique because ids are — and each rename is audited
--    (via = 'system', action MANDATE_RENAMED_DUPLICATE, before/after in details). The demo and
--    bench dataset generator (store/dataset.rs) produces unique names, so it renames nothing.
WITH ranked AS (
    SELECT id, name,
           row_number() OVER (PARTITION BY lower(name) ORDER BY created_at, id) AS rank
      FROM mandate
     WHERE deleted_at IS NULL
), renamed AS (
    UPDATE mandate m
       SET name = m.name || ' (duplicate ' || m.id::text || ')', updated_at = now()
      FROM ranked r
     WHERE r.id = m.id AND r.rank > 1
 RETURNING m.id, r.name AS old_name, m.name AS new_name
)
INSERT INTO mandate_audit (via, mandate_id, mandate_name, action, details)
SELECT 'system', id, new_name, 'MANDATE_RENAMED_DUPLICATE',
       jsonb_build_object('before', old_name, 'after', new_name,
                          'reason', 'live mandate names are unique case-insensitively (migration 0700)')
  FROM renamed;

-- 2. The rule itself. A soft-deleted mandate keeps its name but does not hold it: restoring it
--    while another live mandate has the name is refused (naming that mandate).
CREATE UNIQUE INDEX mandate_name_live_key ON mandate (lower(name)) WHERE deleted_at IS NULL;

-- 3. The enabled state a mandate had when it was soft-deleted (NULL while live).
ALTER TABLE mandate ADD COLUMN enabled_before_delete boolean;

-- Mandates soft-deleted before this migration: the state recorded by their last
-- MANDATE_CREATED / MANDATE_UPDATED audit row before the deletion; without one, disabled
-- (restoring must never switch on what the operator had not).
UPDATE mandate m
   SET enabled_before_delete = COALESCE((
         SELECT CASE a.action
                  WHEN 'MANDATE_CREATED' THEN (a.details ->> 'enabled')::boolean
                  ELSE (a.details -> 'after' ->> 'enabled')::boolean
                END
           FROM mandate_audit a
          WHERE a.mandate_id = m.id
            AND a.action IN ('MANDATE_CREATED', 'MANDATE_UPDATED')
            AND a.created_at <= m.deleted_at
          ORDER BY a.created_at DESC, a.id DESC
          LIMIT 1), false)
 WHERE m.deleted_at IS NOT NULL;
