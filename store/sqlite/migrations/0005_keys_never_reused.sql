-- Integer keys are never reused. Without AUTOINCREMENT SQLite gave a new
-- row max(key)+1, so deleting the newest user handed its key to the next
-- one: its activity history, last login and login failures, and every
-- legacy client still holding the number. AUTOINCREMENT keeps the highest
-- key ever used in sqlite_sequence. SQLite cannot add it to a table in
-- place, so users and groups are rebuilt here with their rows, keys,
-- indexes and triggers. The tables that reference them (user_emails,
-- memberships) are set aside and rebuilt around them: with foreign keys on,
-- dropping a parent would cascade into them. Triggers do not fire on the
-- copies, so the counts stay as they are.

CREATE TABLE users_new (
  key           INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT    NOT NULL UNIQUE,
  user_name     TEXT    NOT NULL COLLATE NOCASE UNIQUE,
  external_id   TEXT,
  display_name  TEXT    COLLATE NOCASE,
  active        INTEGER NOT NULL,
  created       INTEGER NOT NULL,
  last_modified INTEGER NOT NULL,
  version       INTEGER NOT NULL,
  password_hash TEXT,
  source        TEXT,
  source_id     TEXT,
  source_dn     TEXT,
  doc           TEXT    NOT NULL
);
INSERT INTO users_new (key, id, user_name, external_id, display_name, active, created, last_modified, version,
  password_hash, source, source_id, source_dn, doc)
SELECT key, id, user_name, external_id, display_name, active, created, last_modified, version,
  password_hash, source, source_id, source_dn, doc FROM users;

CREATE TABLE groups_new (
  key           INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT    NOT NULL UNIQUE,
  display_name  TEXT    NOT NULL COLLATE NOCASE UNIQUE,
  external_id   TEXT,
  created       INTEGER NOT NULL,
  last_modified INTEGER NOT NULL,
  version       INTEGER NOT NULL,
  source        TEXT,
  source_id     TEXT,
  source_dn     TEXT
);
INSERT INTO groups_new (key, id, display_name, external_id, created, last_modified, version, source, source_id, source_dn)
SELECT key, id, display_name, external_id, created, last_modified, version, source, source_id, source_dn FROM groups;

CREATE TEMP TABLE user_emails_kept AS SELECT user_key, pos, value, type, is_primary FROM user_emails;
CREATE TEMP TABLE memberships_kept AS SELECT group_key, member_type, member_key FROM memberships;
DROP TABLE user_emails;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE groups;
ALTER TABLE users_new RENAME TO users;
ALTER TABLE groups_new RENAME TO groups;

CREATE UNIQUE INDEX users_external_id ON users(external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_display_name ON users(display_name) WHERE display_name IS NOT NULL;
CREATE INDEX users_created ON users(created);
CREATE INDEX users_last_modified ON users(last_modified);
CREATE UNIQUE INDEX users_source ON users(source, source_id) WHERE source IS NOT NULL;
CREATE INDEX users_source_dn ON users(source, source_dn COLLATE NOCASE) WHERE source IS NOT NULL;
CREATE TRIGGER users_count_ins AFTER INSERT ON users BEGIN UPDATE counts SET n = n + 1 WHERE name = 'users'; END;
CREATE TRIGGER users_count_del AFTER DELETE ON users BEGIN UPDATE counts SET n = n - 1 WHERE name = 'users'; END;

CREATE UNIQUE INDEX groups_external_id ON groups(external_id) WHERE external_id IS NOT NULL;
CREATE INDEX groups_created ON groups(created);
CREATE INDEX groups_last_modified ON groups(last_modified);
CREATE UNIQUE INDEX groups_source ON groups(source, source_id) WHERE source IS NOT NULL;
CREATE INDEX groups_source_dn ON groups(source, source_dn COLLATE NOCASE) WHERE source IS NOT NULL;
CREATE TRIGGER groups_count_ins AFTER INSERT ON groups BEGIN UPDATE counts SET n = n + 1 WHERE name = 'groups'; END;
CREATE TRIGGER groups_count_del AFTER DELETE ON groups BEGIN UPDATE counts SET n = n - 1 WHERE name = 'groups'; END;

CREATE TABLE user_emails (
  user_key   INTEGER NOT NULL REFERENCES users(key) ON DELETE CASCADE,
  pos        INTEGER NOT NULL,
  value      TEXT    NOT NULL COLLATE NOCASE,
  type       TEXT    COLLATE NOCASE,
  is_primary INTEGER NOT NULL,
  PRIMARY KEY (user_key, pos)
) WITHOUT ROWID;
INSERT INTO user_emails SELECT user_key, pos, value, type, is_primary FROM user_emails_kept;
CREATE INDEX user_emails_value ON user_emails(value);

CREATE TABLE memberships (
  group_key   INTEGER NOT NULL REFERENCES groups(key) ON DELETE CASCADE,
  member_type INTEGER NOT NULL,
  member_key  INTEGER NOT NULL,
  PRIMARY KEY (group_key, member_type, member_key)
) WITHOUT ROWID;
INSERT INTO memberships SELECT group_key, member_type, member_key FROM memberships_kept;
CREATE INDEX memberships_member ON memberships(member_type, member_key, group_key);
CREATE TRIGGER nested_count_ins AFTER INSERT ON memberships WHEN NEW.member_type = 1
BEGIN UPDATE counts SET n = n + 1 WHERE name = 'nested'; END;
CREATE TRIGGER nested_count_del AFTER DELETE ON memberships WHEN OLD.member_type = 1
BEGIN UPDATE counts SET n = n - 1 WHERE name = 'nested'; END;

DROP TABLE user_emails_kept;
DROP TABLE memberships_kept;

-- Keys already deleted before this migration still name someone in the
-- activity log and in credentials: new rows start above every key ever
-- recorded, not just above the rows that are left.
INSERT INTO sqlite_sequence (name, seq) SELECT 'users', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users');
INSERT INTO sqlite_sequence (name, seq) SELECT 'groups', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'groups');
UPDATE sqlite_sequence SET seq = max(seq,
  coalesce((SELECT max(key) FROM users), 0),
  coalesce((SELECT max(user_key) FROM activity), 0),
  coalesce((SELECT max(resource_key) FROM activity WHERE resource_type = 'User'), 0),
  coalesce((SELECT max(user_key) FROM credentials), 0)) WHERE name = 'users';
UPDATE sqlite_sequence SET seq = max(seq,
  coalesce((SELECT max(key) FROM groups), 0),
  coalesce((SELECT max(resource_key) FROM activity WHERE resource_type = 'Group'), 0),
  coalesce((SELECT max(member_key) FROM memberships WHERE member_type = 1), 0)) WHERE name = 'groups';
