-- Uploads of blobs in pieces (`/v1/blobs/{sha256}/upload`): what has arrived so far, so
-- that a 20 MB photo over a link that drops every few megabytes resumes where it broke
-- instead of starting over. A piece is committed before it is acknowledged; when the
-- last one arrives the whole is hashed, moved to `blobs` and the pieces deleted.
CREATE TABLE blob_uploads (
    sha256     TEXT PRIMARY KEY,
    total      INTEGER NOT NULL,
    received   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE blob_pieces (
    sha256 TEXT NOT NULL,
    offset INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (sha256, offset)
) STRICT;
