-- How many write transactions this database has committed. The high-water file beside it
-- records the count reached; a database found behind it was restored from a backup. The
-- change log's position is not enough: a blob upload, a number lease or a refused push is
-- acknowledged to a laptop without moving it, and a restore loses them all the same.
ALTER TABLE server_identity ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
