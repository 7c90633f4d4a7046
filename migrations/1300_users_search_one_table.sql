-- The users search reads one table (issue 13). It matched the profile's name and organisation
-- through a UNION over `user_profile`, and the page then joined every match back to
-- `directory_user` for its sort key: at 200,000 users a broad term (`turing`, 9,000 matches)
-- hashed the whole directory. The profile fields are already kept on the directory row (0910,
-- for the sorts); with trigram indexes on them the search is one BitmapOr over
-- `directory_user`'s own indexes, and the matches carry their sort keys.
CREATE INDEX directory_user_profile_name_trgm ON directory_user
    USING gin (profile_name gin_trgm_ops);
CREATE INDEX directory_user_profile_org_trgm ON directory_user
    USING gin (profile_organisation gin_trgm_ops);

-- Nothing searches `user_profile` itself any more.
DROP INDEX user_profile_name_trgm;
DROP INDEX user_profile_org_trgm;
