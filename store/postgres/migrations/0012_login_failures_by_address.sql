-- Lockout counts failed logins per client address (across accounts) and
-- per unknown user name (a reference to the name, kept as the entry's
-- resource id) at every login: both are found by index, as in store/sqlite
-- (its 0012); before, each read the whole activity log. Partial, so that no
-- other activity entry pays for them.
CREATE INDEX activity_login_failures_address ON activity (address, seq) WHERE action = 'login.failure';
CREATE INDEX activity_login_failures_subject ON activity (resource_id, seq) WHERE action = 'login.failure';
