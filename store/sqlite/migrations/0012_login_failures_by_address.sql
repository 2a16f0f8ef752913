-- Lockout counts failed logins per client address (across accounts) as
-- well as per account: the failures of one address are found by index.
-- Partial, so that no other activity entry pays for it.
CREATE INDEX activity_login_failures ON activity(address, seq) WHERE action = 'login.failure';
