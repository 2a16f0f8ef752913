-- Directory member references name DNs; resolve them without a scan.
CREATE INDEX users_source_dn ON users(source, source_dn COLLATE NOCASE) WHERE source IS NOT NULL;
CREATE INDEX groups_source_dn ON groups(source, source_dn COLLATE NOCASE) WHERE source IS NOT NULL;
