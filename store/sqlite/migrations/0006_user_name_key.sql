-- userNames compare by store.UserNameKey (RFC 8265 UsernameCaseMapped:
-- width, case, NFC), not by ASCII case alone: "ÄRNE" and "ärne" are one
-- name. The key is computed in Go (backfill.go fills it for the rows here)
-- and uniqueness is checked by the store against this index inside the
-- write transaction. The index is not UNIQUE because a database may
-- already hold names that the new comparison finds equal; those users stay
-- as they are, and no new user or rename can join them.
ALTER TABLE users ADD COLUMN user_name_key TEXT NOT NULL DEFAULT '';
CREATE INDEX users_user_name_key ON users(user_name_key);
