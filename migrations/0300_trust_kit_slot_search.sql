-- Trusts (issue 5): substring search over kit slot names in the kit slot list.
CREATE INDEX fl_kit_slot_name_trgm ON fl_kit_slot USING gin (slot_name gin_trgm_ops);
