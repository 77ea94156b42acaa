-- An op_id names an operation of one user: another user pushing the same op_id (by
-- accident or on purpose) is answered for their own operation, not with the first user's.
CREATE TABLE ops_by_user (
    op_id     TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    op        TEXT NOT NULL,
    status    TEXT NOT NULL,
    reason    TEXT,
    at        INTEGER NOT NULL,
    PRIMARY KEY (user_id, op_id)
) STRICT;
INSERT INTO ops_by_user (op_id, user_id, device_id, op, status, reason, at)
    SELECT op_id, user_id, device_id, op, status, reason, at FROM ops;
DROP TABLE ops;
ALTER TABLE ops_by_user RENAME TO ops;
CREATE INDEX ops_status ON ops (status) WHERE status IN ('conflict', 'quarantined');

-- Who sent a blob's bytes. A record may refer to a blob its pusher sent or can already
-- see; naming another engineer's photo by its hash no longer opens it.
CREATE TABLE blob_owners (
    sha256  TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (sha256, user_id)
) STRICT;
INSERT OR IGNORE INTO blob_owners (sha256, user_id)
    SELECT r.sha256, o.user_id FROM blob_refs r
    JOIN ops o ON json_extract(o.op, '$.id') = r.id AND json_extract(o.op, '$.entity') = r.entity
    WHERE o.status = 'applied';

-- Failed sign-ins are counted in the server's memory now (`throttle`): rows keyed by
-- whatever name an anonymous caller sent, never purged, could fill the disk.
DROP TABLE login_failures;
