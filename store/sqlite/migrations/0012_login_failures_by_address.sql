-- Lockout counts failed logins per client address (across accounts) and
-- per account, also for unknown user names (by a reference to the name,
-- kept as the entry's resource id): both are found by index. Partial, so
-- that no other activity entry pays for them.
CREATE INDEX activity_login_failures_address ON activity(address, seq) WHERE action = 'login.failure';
CREATE INDEX activity_login_failures_subject ON activity(resource_id, seq) WHERE action = 'login.failure';
