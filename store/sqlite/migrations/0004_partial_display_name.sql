-- displayName eq never matches a user without one, so such users need no
-- index entry (one page fewer written per change of such a user).
DROP INDEX users_display_name;
CREATE INDEX users_display_name ON users(display_name) WHERE display_name IS NOT NULL;
