-- Activity entries name the user they concern by SCIM id as well as by
-- key, so a deleted user's history is found by its id and never shown as
-- another user's. Entries about a user resource carry the id already; the
-- others (memberships, credentials) get the id of the user that held the
-- key at the time: the one whose user.create entry came last before them
-- (keys were reused before 0005), else the user holding it now.
ALTER TABLE activity ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
UPDATE activity SET user_id = resource_id WHERE resource_type = 'User' AND resource_id <> '' AND user_key = resource_key;
CREATE TEMP TABLE user_creates AS SELECT user_key, seq, resource_id FROM activity WHERE action = 'user.create' AND user_key <> 0;
CREATE INDEX temp.user_creates_key ON user_creates(user_key, seq);
UPDATE activity SET user_id = coalesce(
  (SELECT c.resource_id FROM user_creates c WHERE c.user_key = activity.user_key AND c.seq <= activity.seq ORDER BY c.seq DESC LIMIT 1),
  (SELECT id FROM users WHERE key = activity.user_key), '')
WHERE user_id = '' AND user_key <> 0;
DROP TABLE user_creates;
CREATE INDEX activity_user_id ON activity(user_id, seq) WHERE user_id <> '';
