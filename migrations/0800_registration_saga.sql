-- Registration saga (issue 12): one open registration per email, a terminal `conflict` state for
-- identities the saga cannot prove it created, the directory call window (database clock) and
-- the evidence an operator needs, and the LocalDirectory's registration marker.

ALTER TABLE registration DROP CONSTRAINT registration_state_check;
ALTER TABLE registration ADD CONSTRAINT registration_state_check CHECK (state IN (
    'pending', 'identity_created', 'roles_pending', 'complete', 'rolled_back', 'needs_cleanup',
    'resolved', 'conflict'));

-- Start and end of the create call(s), from the database clock (clock_timestamp()).
ALTER TABLE registration ADD COLUMN call_started_at timestamptz;
ALTER TABLE registration ADD COLUMN call_finished_at timestamptz;
-- What the saga saw when it refused to adopt or delete an identity (for an operator).
ALTER TABLE registration ADD COLUMN evidence jsonb;

-- Rows that would break the one-open-registration rule: every open row but the newest of an
-- email is set aside as `conflict` with the reason (nothing is deleted).
UPDATE registration r
   SET state = 'conflict',
       evidence = jsonb_build_object('reason',
           'another open registration of the same email existed when hubdeck started to allow only one'),
       updated_at = now()
 WHERE r.state IN ('pending', 'identity_created', 'roles_pending', 'needs_cleanup')
   AND EXISTS (SELECT 1 FROM registration o
                WHERE lower(o.email) = lower(r.email)
                  AND o.state IN ('pending', 'identity_created', 'roles_pending', 'needs_cleanup')
                  AND (o.created_at, o.id) > (r.created_at, r.id));

-- At most one open (non-terminal) registration per normalised email.
CREATE UNIQUE INDEX registration_one_open_per_email ON registration (lower(email))
    WHERE state IN ('pending', 'identity_created', 'roles_pending', 'needs_cleanup');

-- The on-call list (open rows and conflicts), oldest first.
CREATE INDEX registration_attention_idx ON registration (created_at, id)
    WHERE state IN ('pending', 'identity_created', 'roles_pending', 'needs_cleanup', 'conflict');

-- LocalDirectory: the registration id an identity was created for (proof of authorship, the
-- counterpart of Cognito's custom:hubdeck_reg attribute). Set only at creation.
ALTER TABLE local_identity ADD COLUMN registration_marker text;
