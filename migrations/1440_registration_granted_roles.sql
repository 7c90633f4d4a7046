-- The global grants a registration itself wrote (the roles write adds only the ones the user
-- did not hold yet). Rolling the registration back revokes exactly these, never a grant another
-- operator made.
ALTER TABLE registration ADD COLUMN granted_roles uuid[] NOT NULL DEFAULT '{}';
