-- The outbox (store/outbox.go): while outbox_state.enabled, every change of
-- a user, group or membership made by a door other than the directory sync
-- adds a row, in the change's own transaction. Triggers write it, so every
-- write path is covered, whoever calls it; they exist only while the outbox
-- is on (SetOutbox in outbox.go creates and drops them), so that a store
-- without write-back compiles none into its statements. Times are Unix
-- microseconds.
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
