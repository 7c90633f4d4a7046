-- The members of one mandate that match a search (issue 13) are found in one GIN index on
-- (mandate_id, member_search): every member search is scoped to a mandate, and the trigram index
-- on member_search alone had to be ANDed with a bitmap of the mandate's every membership
-- (100,000 entries for the largest) — at the bench scale the count of `khan` in that mandate
-- took 16–80 ms (the planner sometimes preferred walking 1320's covering index), with this
-- index about 4 ms. btree_gin provides the uuid operator class (a trusted extension, like
-- pg_trgm).
CREATE EXTENSION IF NOT EXISTS btree_gin;
DROP INDEX user_mandate_search_trgm;
CREATE INDEX user_mandate_search_trgm ON user_mandate
    USING gin (mandate_id, member_search gin_trgm_ops);
