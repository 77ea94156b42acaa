-- Operations the server acknowledged, kept 30 days (50,000 at most): a server restored
-- from an older backup has lost some of them, and the laptop sends them again (the server
-- answers those it still has as duplicates).
CREATE TABLE acked_op (
    seq        INTEGER PRIMARY KEY,
    op_id      TEXT NOT NULL UNIQUE,
    entity     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    op         TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    acked_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX acked_op_at ON acked_op (acked_at);

-- While the laptop syncs again from scratch: the records the new pull has not brought
-- yet. What is left at its end is gone from the server's history and is dropped, unless
-- work on it is still waiting to be sent.
CREATE TABLE resync_unseen (
    entity TEXT NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (entity, id)
) STRICT, WITHOUT ROWID;
