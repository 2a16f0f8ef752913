-- Activity entries name the user they concern by SCIM id as well as by
-- key, so a deleted user's history is found by its id and never shown as
-- another user's (store/sqlite's migration 0007). Entries about a user
-- resource carry the id already; the others (memberships, credentials) get
-- the id of the user whose user.create entry came last before them, else
-- the user holding the key now.
ALTER TABLE activity ADD COLUMN user_id text COLLATE "C" NOT NULL DEFAULT '';
UPDATE activity SET user_id = resource_id WHERE resource_type = 'User' AND resource_id <> '' AND user_key = resource_key;
UPDATE activity a SET user_id = coalesce(
  (SELECT c.resource_id FROM activity c WHERE c.action = 'user.create' AND c.user_key = a.user_key AND c.seq <= a.seq
   ORDER BY c.seq DESC LIMIT 1),
  (SELECT id FROM users WHERE key = a.user_key), '')
WHERE user_id = '' AND user_key <> 0;
CREATE INDEX activity_user_id ON activity (user_id, seq) WHERE user_id <> '';
