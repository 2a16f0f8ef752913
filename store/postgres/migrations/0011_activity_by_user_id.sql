-- A user's activity is looked up by the user's SCIM id alone
-- (activity_user_id, 0004): every entry about a user carries it, and keys
-- are never reused, so the index by key found the same entries and only
-- cost every write one more index entry.
DROP INDEX activity_user;
