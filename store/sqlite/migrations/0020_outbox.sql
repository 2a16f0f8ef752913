-- The outbox (store/outbox.go): while outbox_state.enabled, every change of
-- a user, group or membership made by a door other than the directory sync
-- adds a row, in the change's own transaction. Triggers write it, so every
-- write path is covered, whoever calls it. Times are Unix microseconds.
CREATE TABLE outbox (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  at            INTEGER NOT NULL,
  door          TEXT    NOT NULL,
  principal     TEXT    NOT NULL,
  address       TEXT    NOT NULL,
  action        TEXT    NOT NULL,
  resource_type TEXT    NOT NULL,
  resource_id   TEXT    NOT NULL,
  resource_key  INTEGER NOT NULL,
  detail        TEXT    NOT NULL,
  -- JSON snapshots of the resource before and after the change, and of the
  -- member a membership change concerns.
  before        TEXT,
  after         TEXT,
  member        TEXT,
  attempts      INTEGER NOT NULL DEFAULT 0,
  next_attempt  INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT    NOT NULL DEFAULT '',
  last_failed   INTEGER NOT NULL DEFAULT 0,
  dead          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_dead ON outbox(dead, seq);

CREATE TABLE outbox_state (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  enabled INTEGER NOT NULL
);
INSERT INTO outbox_state VALUES (1, 0);

-- A resource as it was before an update or a delete, kept from the row
-- trigger until the activity entry of the same change takes it.
CREATE TABLE outbox_before (
  resource_type TEXT    NOT NULL,
  resource_key  INTEGER NOT NULL,
  snap          TEXT    NOT NULL,
  PRIMARY KEY (resource_type, resource_key)
) WITHOUT ROWID;

-- Version bumps (a user whose groups changed, a group that lost a member)
-- change no attribute and are left out.
CREATE TRIGGER outbox_user_updated AFTER UPDATE ON users
WHEN (SELECT enabled FROM outbox_state) AND (OLD.doc IS NOT NEW.doc OR OLD.user_name IS NOT NEW.user_name
  OR OLD.active IS NOT NEW.active OR OLD.password_hash IS NOT NEW.password_hash OR OLD.source IS NOT NEW.source
  OR OLD.source_id IS NOT NEW.source_id OR OLD.source_dn IS NOT NEW.source_dn)
BEGIN
  INSERT OR REPLACE INTO outbox_before VALUES ('User', OLD.key, json_object('key', OLD.key, 'id', OLD.id,
    'user_name', OLD.user_name, 'external_id', OLD.external_id, 'display_name', OLD.display_name,
    'active', OLD.active, 'source', OLD.source, 'source_id', OLD.source_id, 'source_dn', OLD.source_dn,
    'doc', json(OLD.doc)));
END;

CREATE TRIGGER outbox_user_deleted AFTER DELETE ON users
WHEN (SELECT enabled FROM outbox_state)
BEGIN
  INSERT OR REPLACE INTO outbox_before VALUES ('User', OLD.key, json_object('key', OLD.key, 'id', OLD.id,
    'user_name', OLD.user_name, 'external_id', OLD.external_id, 'display_name', OLD.display_name,
    'active', OLD.active, 'source', OLD.source, 'source_id', OLD.source_id, 'source_dn', OLD.source_dn,
    'doc', json(OLD.doc)));
END;

CREATE TRIGGER outbox_group_updated AFTER UPDATE ON groups
WHEN (SELECT enabled FROM outbox_state) AND (OLD.display_name IS NOT NEW.display_name
  OR OLD.external_id IS NOT NEW.external_id OR OLD.source IS NOT NEW.source OR OLD.source_id IS NOT NEW.source_id
  OR OLD.source_dn IS NOT NEW.source_dn)
BEGIN
  INSERT OR REPLACE INTO outbox_before VALUES ('Group', OLD.key, json_object('key', OLD.key, 'id', OLD.id,
    'display_name', OLD.display_name, 'external_id', OLD.external_id, 'source', OLD.source,
    'source_id', OLD.source_id, 'source_dn', OLD.source_dn));
END;

CREATE TRIGGER outbox_group_deleted AFTER DELETE ON groups
WHEN (SELECT enabled FROM outbox_state)
BEGIN
  INSERT OR REPLACE INTO outbox_before VALUES ('Group', OLD.key, json_object('key', OLD.key, 'id', OLD.id,
    'display_name', OLD.display_name, 'external_id', OLD.external_id, 'source', OLD.source,
    'source_id', OLD.source_id, 'source_dn', OLD.source_dn));
END;

-- Every change records an activity entry right after its rows: that entry
-- names the door and the action, so it is where the outbox row is made.
-- A membership entry names the member by id in its detail ("member=<id>")
-- and, for a user, by key in user_key.
CREATE TRIGGER outbox_collect AFTER INSERT ON activity
WHEN (SELECT enabled FROM outbox_state) AND NEW.resource_type IN ('User', 'Group')
BEGIN
  INSERT INTO outbox (at, door, principal, address, action, resource_type, resource_id, resource_key, detail,
    before, after, member)
  SELECT NEW.at, NEW.door, NEW.principal, NEW.address, NEW.action, NEW.resource_type, NEW.resource_id,
    NEW.resource_key, NEW.detail,
    (SELECT snap FROM outbox_before WHERE resource_type = NEW.resource_type AND resource_key = NEW.resource_key),
    CASE
      WHEN NEW.action IN ('group.members.add', 'group.members.remove') THEN NULL
      WHEN NEW.resource_type = 'User' THEN (SELECT json_object('key', u.key, 'id', u.id, 'user_name', u.user_name,
        'external_id', u.external_id, 'display_name', u.display_name, 'active', u.active, 'source', u.source,
        'source_id', u.source_id, 'source_dn', u.source_dn, 'doc', json(u.doc)) FROM users u WHERE u.key = NEW.resource_key)
      ELSE (SELECT json_object('key', g.key, 'id', g.id, 'display_name', g.display_name, 'external_id', g.external_id,
        'source', g.source, 'source_id', g.source_id, 'source_dn', g.source_dn) FROM groups g WHERE g.key = NEW.resource_key)
    END,
    CASE
      WHEN NEW.action NOT IN ('group.members.add', 'group.members.remove') THEN NULL
      WHEN NEW.user_key <> 0 THEN (SELECT json_object('type', 'User', 'id', u.id, 'key', u.key, 'name', u.user_name,
        'active', u.active, 'source', u.source, 'source_id', u.source_id, 'source_dn', u.source_dn)
        FROM users u WHERE u.key = NEW.user_key)
      ELSE (SELECT json_object('type', 'Group', 'id', g.id, 'key', g.key, 'name', g.display_name, 'active', 1,
        'source', g.source, 'source_id', g.source_id, 'source_dn', g.source_dn)
        FROM groups g WHERE g.id = substr(NEW.detail, length('member=') + 1))
    END
  WHERE NEW.door <> 'ldapsync' AND NEW.action IN ('user.create', 'user.update', 'user.activate', 'user.deactivate',
    'user.delete', 'password.change', 'group.create', 'group.update', 'group.delete', 'group.members.add',
    'group.members.remove');
  DELETE FROM outbox_before WHERE resource_type = NEW.resource_type AND resource_key = NEW.resource_key;
END;
