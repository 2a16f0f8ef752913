-- userNames compare by store.UserNameKey (RFC 8265 UsernameCaseMapped:
-- width, case, NFC), not by ASCII case alone: "ÄRNE" and "ärne" are one
-- name. The key is computed in Go: backfill.go fills it for the rows here
-- and then makes it UNIQUE (see fillUserNameKeys for names that collide
-- already).
ALTER TABLE users ADD COLUMN user_name_key TEXT NOT NULL DEFAULT '';
