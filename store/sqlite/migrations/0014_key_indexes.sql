-- Narrow indexes of the keys alone, for offset paging (startIndex): the
-- offset is counted off in one of these (hundreds of entries per page)
-- instead of in the table itself, whose rows carry whole documents, and the
-- page is then read from the key found on (filter.go, seekOffset).
CREATE INDEX users_key ON users(key);
CREATE INDEX groups_key ON groups(key);
