-- Users: columns that are filtered, sorted or unique sit beside the full
-- document (doc, JSON). Times are Unix microseconds.
CREATE TABLE users (
  key           INTEGER PRIMARY KEY,
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
-- Partial: users without an externalId (most) cost the index nothing.
CREATE UNIQUE INDEX users_external_id ON users(external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_display_name ON users(display_name);
CREATE INDEX users_created ON users(created);
CREATE INDEX users_last_modified ON users(last_modified);
CREATE UNIQUE INDEX users_source ON users(source, source_id) WHERE source IS NOT NULL;

-- E-mail values, for index-backed lookups by address.
CREATE TABLE user_emails (
  user_key   INTEGER NOT NULL REFERENCES users(key) ON DELETE CASCADE,
  pos        INTEGER NOT NULL,
  value      TEXT    NOT NULL COLLATE NOCASE,
  type       TEXT    COLLATE NOCASE,
  is_primary INTEGER NOT NULL,
  PRIMARY KEY (user_key, pos)
) WITHOUT ROWID;
CREATE INDEX user_emails_value ON user_emails(value);

CREATE TABLE groups (
  key           INTEGER PRIMARY KEY,
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
CREATE UNIQUE INDEX groups_external_id ON groups(external_id) WHERE external_id IS NOT NULL;
CREATE INDEX groups_created ON groups(created);
CREATE INDEX groups_last_modified ON groups(last_modified);
CREATE UNIQUE INDEX groups_source ON groups(source, source_id) WHERE source IS NOT NULL;

-- Membership, indexed both ways. member_type: 0 user, 1 group.
CREATE TABLE memberships (
  group_key   INTEGER NOT NULL REFERENCES groups(key) ON DELETE CASCADE,
  member_type INTEGER NOT NULL,
  member_key  INTEGER NOT NULL,
  PRIMARY KEY (group_key, member_type, member_key)
) WITHOUT ROWID;
CREATE INDEX memberships_member ON memberships(member_type, member_key, group_key);

-- Row counts kept by triggers, so unfiltered listings need no COUNT(*) scan.
CREATE TABLE counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO counts VALUES ('users', 0), ('groups', 0);
CREATE TRIGGER users_count_ins AFTER INSERT ON users BEGIN UPDATE counts SET n = n + 1 WHERE name = 'users'; END;
CREATE TRIGGER users_count_del AFTER DELETE ON users BEGIN UPDATE counts SET n = n - 1 WHERE name = 'users'; END;
CREATE TRIGGER groups_count_ins AFTER INSERT ON groups BEGIN UPDATE counts SET n = n + 1 WHERE name = 'groups'; END;
CREATE TRIGGER groups_count_del AFTER DELETE ON groups BEGIN UPDATE counts SET n = n - 1 WHERE name = 'groups'; END;

CREATE TABLE activity (
  seq           INTEGER PRIMARY KEY,
  at            INTEGER NOT NULL,
  door          TEXT    NOT NULL,
  principal     TEXT    NOT NULL,
  address       TEXT    NOT NULL,
  action        TEXT    NOT NULL,
  resource_type TEXT    NOT NULL,
  resource_id   TEXT    NOT NULL,
  resource_key  INTEGER NOT NULL,
  user_key      INTEGER NOT NULL,
  detail        TEXT    NOT NULL
);
-- Only the per-user history is read on a hot path (legacy doors show it);
-- operators' filters by door, resource or time run over the log itself.
CREATE INDEX activity_user ON activity(user_key, seq) WHERE user_key <> 0;

CREATE TABLE credentials (
  id          INTEGER PRIMARY KEY,
  kind        TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  user_key    INTEGER NOT NULL,
  identifier  TEXT    NOT NULL,
  secret_hash TEXT    NOT NULL,
  scopes      TEXT    NOT NULL,
  data        TEXT    NOT NULL,
  created     INTEGER NOT NULL,
  expires     INTEGER NOT NULL,
  last_used   INTEGER NOT NULL,
  UNIQUE (kind, secret_hash)
);
CREATE INDEX credentials_user ON credentials(user_key) WHERE user_key <> 0;

CREATE TABLE objects (
  kind    TEXT    NOT NULL,
  name    TEXT    NOT NULL,
  doc     TEXT    NOT NULL,
  version INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY (kind, name)
) WITHOUT ROWID;
