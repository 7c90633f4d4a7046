-- A search may walk the sort index a bounded number of rows keeping the matches (issue 13,
-- `Plan::Probe`). For the default member order (created_at) and the default users order
-- (email), the index now carries what the search reads, so the walk is an index-only scan:
-- no heap visit per walked row. (1310 did the same for mandates.) The member index also carries
-- `user_id`: the list joins the directory cache on it, and a join the planner removes still
-- keeps its column needed, which alone would rule out the index-only scan.
DROP INDEX user_mandate_mandate_created_idx;
CREATE INDEX user_mandate_mandate_created_idx ON user_mandate (mandate_id, created_at, id)
    INCLUDE (member_search, user_id);
DROP INDEX directory_user_email_idx;
CREATE INDEX directory_user_email_idx ON directory_user (lower(email), sub)
    INCLUDE (email, username, profile_name, profile_organisation) WHERE gone_at IS NULL;
