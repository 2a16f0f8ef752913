-- userNames compare by store.UserNameKey (RFC 8265 UsernameCaseMapped:
-- width, case, NFC), not by ASCII case alone: "ÄRNE" and "ärne" are one
-- name, as in store/sqlite (its migration 0006). The key is computed in
-- Go: backfill.go fills it for the rows here and then creates the unique
-- index users_user_name on it (the constraint name conflicts report).
-- lower(user_name) stays indexed for sorting and sw/co filters.
ALTER TABLE users ADD COLUMN user_name_key text COLLATE "C" NOT NULL DEFAULT '';
DROP INDEX users_user_name;
CREATE INDEX users_user_name_fold ON users (lower(user_name));
