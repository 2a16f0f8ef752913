-- externalId is scoped to the provisioning domain of the client that set it
-- (RFC 7643 §3.1) and is not unique: one value per resource and domain
-- (store/sqlite's migration 0010). resource_type: 0 user, 1 group. The
-- lookup index serves `externalId eq` within a domain.
CREATE TABLE external_ids (
  resource_type smallint NOT NULL,
  resource_key  bigint   NOT NULL,
  domain        text COLLATE "C" NOT NULL,
  external_id   text COLLATE "C" NOT NULL,
  PRIMARY KEY (resource_type, resource_key, domain)
);
CREATE INDEX external_ids_lookup ON external_ids (resource_type, domain, external_id);

-- Existing values belong to the default domain.
INSERT INTO external_ids (resource_type, resource_key, domain, external_id)
  SELECT 0, key, 'default', external_id FROM users WHERE external_id IS NOT NULL AND external_id <> '';
INSERT INTO external_ids (resource_type, resource_key, domain, external_id)
  SELECT 1, key, 'default', external_id FROM groups WHERE external_id IS NOT NULL AND external_id <> '';

-- The unique indexes on the columns go with them.
ALTER TABLE users DROP COLUMN external_id;
ALTER TABLE groups DROP COLUMN external_id;

-- A deleted resource takes its externalIds with it, whichever door deletes
-- it: one statement per deleting statement, however many rows it removes.
CREATE FUNCTION external_ids_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM external_ids x USING old_rows o
  WHERE x.resource_type = TG_ARGV[0]::smallint AND x.resource_key = o.key;
  RETURN NULL;
END $$;
CREATE TRIGGER users_external_ids_del AFTER DELETE ON users REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION external_ids_deleted('0');
CREATE TRIGGER groups_external_ids_del AFTER DELETE ON groups REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION external_ids_deleted('1');
