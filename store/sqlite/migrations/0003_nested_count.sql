-- How many group-in-group memberships exist: reads walk nesting only when
-- there is any.
INSERT INTO counts VALUES ('nested', (SELECT count(*) FROM memberships WHERE member_type = 1));
CREATE TRIGGER nested_count_ins AFTER INSERT ON memberships WHEN NEW.member_type = 1
BEGIN UPDATE counts SET n = n + 1 WHERE name = 'nested'; END;
CREATE TRIGGER nested_count_del AFTER DELETE ON memberships WHEN OLD.member_type = 1
BEGIN UPDATE counts SET n = n - 1 WHERE name = 'nested'; END;
