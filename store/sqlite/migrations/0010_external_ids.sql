-- externalId is scoped to the provisioning domain of the client that set it
-- (RFC 7643 §3.1) and is not unique: one value per resource and domain.
-- resource_type: 0 user, 1 group. The lookup index serves `externalId eq`
-- within a domain.
CREATE TABLE external_ids (
  resource_type INTEGER NOT NULL,
  resource_key  INTEGER NOT NULL,
  domain        TEXT    NOT NULL,
  external_id   TEXT    NOT NULL,
  PRIMARY KEY (resource_type, resource_key, domain)
) WITHOUT ROWID;
CREATE INDEX external_ids_lookup ON external_ids(resource_type, domain, external_id);

-- Existing values belong to the default domain.
INSERT INTO external_ids (resource_type, resource_key, domain, external_id)
  SELECT 0, key, 'default', external_id FROM users WHERE external_id IS NOT NULL AND external_id <> '';
INSERT INTO external_ids (resource_type, resource_key, domain, external_id)
  SELECT 1, key, 'default', external_id FROM groups WHERE external_id IS NOT NULL AND external_id <> '';

DROP INDEX IF EXISTS users_external_id;
DROP INDEX IF EXISTS groups_external_id;
ALTER TABLE users DROP COLUMN external_id;
ALTER TABLE groups DROP COLUMN external_id;

-- A deleted resource takes its externalIds with it, whichever door deletes it.
CREATE TRIGGER users_external_ids_del AFTER DELETE ON users
BEGIN DELETE FROM external_ids WHERE resource_type = 0 AND resource_key = OLD.key; END;
CREATE TRIGGER groups_external_ids_del AFTER DELETE ON groups
BEGIN DELETE FROM external_ids WHERE resource_type = 1 AND resource_key = OLD.key; END;
