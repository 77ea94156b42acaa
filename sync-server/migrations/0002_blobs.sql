-- Content-addressed blobs (photos, signature images): the SHA-256 is the key, checked on
-- upload; a blob is readable by a user when a record in their scope references it.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    bytes      BLOB NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Which blob a record references (attachments, signatures), kept by the server on write.
CREATE TABLE blob_refs (
    sha256        TEXT NOT NULL,
    entity        TEXT NOT NULL,
    id            TEXT NOT NULL,
    work_order_id TEXT,
    PRIMARY KEY (sha256, entity, id)
) STRICT;
