-- The identity of this database's history. A database restored from a backup gets a new
-- one (the server notices at start, or the operator runs `onsite-sync-server restored`):
-- laptops whose cursor is of another epoch sync again from scratch and send again what
-- they had sent since, which the backup lacks.
CREATE TABLE server_identity (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch TEXT NOT NULL
) STRICT;
INSERT INTO server_identity (id, epoch) VALUES (1, lower(hex(randomblob(8))));
