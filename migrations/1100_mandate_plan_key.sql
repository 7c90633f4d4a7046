-- Issue 14: filter mandates by plan. The live subscription's plan is kept on the mandate row by
-- a trigger (like the member sort columns of 0900), so a plan filter walks an index in sort
-- order instead of probing a subscription per row.
ALTER TABLE mandate ADD COLUMN plan_key text;

UPDATE mandate m SET plan_key = s.plan_key
  FROM mandate_subscription s
 WHERE s.mandate_id = m.id AND s.status IN ('trialing', 'active', 'past_due');

CREATE FUNCTION mandate_plan_key_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mandate m
       SET plan_key = (SELECT s.plan_key FROM mandate_subscription s
                        WHERE s.mandate_id = NEW.mandate_id
                          AND s.status IN ('trialing', 'active', 'past_due'))
     WHERE m.id = NEW.mandate_id;
    RETURN NULL;
END $$;

-- Not on DELETE: subscriptions are deleted only with their mandate (cascade).
CREATE TRIGGER mandate_subscription_plan_key AFTER INSERT OR UPDATE OF plan_key, status
    ON mandate_subscription FOR EACH ROW EXECUTE FUNCTION mandate_plan_key_sync();

CREATE INDEX mandate_plan_name_idx ON mandate (plan_key, name, id) WHERE deleted_at IS NULL;
