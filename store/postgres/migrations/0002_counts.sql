-- Row counts kept by triggers, so unfiltered listings need no count(*)
-- over the whole table (44 ms at 100,000 users), as store/sqlite keeps
-- them. Each count is spread over 16 slots, the sum of which is the count.
-- A transaction changes the slot its transaction id picks, whatever rows
-- it adds or removes: it locks one slot row per table until it commits, so
-- concurrent creates rarely wait on one another, and two batches of
-- creates cannot deadlock on slots taken in different orders. A slot may
-- go below zero; the sum cannot.
CREATE TABLE counts (
  name text     NOT NULL,
  slot smallint NOT NULL,
  n    bigint   NOT NULL,
  PRIMARY KEY (name, slot)
);
INSERT INTO counts SELECT t, s, 0 FROM unnest(ARRAY['users', 'groups']) AS t, generate_series(0, 15) AS s;
UPDATE counts SET n = (SELECT count(*) FROM users) WHERE name = 'users' AND slot = 0;
UPDATE counts SET n = (SELECT count(*) FROM groups) WHERE name = 'groups' AND slot = 0;

-- Statement triggers: one counter update per statement, however many rows
-- it adds (COPY of a whole table in migrate-db, a batch insert).
CREATE FUNCTION count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE counts SET n = n + (SELECT count(*) FROM new_rows)
  WHERE name = TG_TABLE_NAME AND slot = txid_current() % 16;
  RETURN NULL;
END $$;
CREATE FUNCTION count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE counts SET n = n - (SELECT count(*) FROM old_rows)
  WHERE name = TG_TABLE_NAME AND slot = txid_current() % 16;
  RETURN NULL;
END $$;
CREATE TRIGGER users_count_ins AFTER INSERT ON users REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION count_inserted();
CREATE TRIGGER users_count_del AFTER DELETE ON users REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION count_deleted();
CREATE TRIGGER groups_count_ins AFTER INSERT ON groups REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION count_inserted();
CREATE TRIGGER groups_count_del AFTER DELETE ON groups REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION count_deleted();
