-- Onsite sync server, SQLite storage, version 1.
-- Times are integer milliseconds since the Unix epoch (UTC) in columns; RFC 3339 in JSON.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('engineer', 'dispatcher', 'admin')),
    department    TEXT,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

-- Session tokens, stored as the SHA-256 of the token: a leaked table opens no session.
CREATE TABLE tokens (
    hash        TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    device_id   TEXT NOT NULL,
    device_name TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

-- Failed logins per username, for throttling.
CREATE TABLE login_failures (
    username TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    last_at  INTEGER NOT NULL
) STRICT;

-- The one counter of change-log positions. Writers take the next value inside their
-- transaction; SQLite serialises writers, so positions are handed out in commit order.
CREATE TABLE change_counter (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;
INSERT INTO change_counter (id, value) VALUES (1, 0);

-- Every record, with the position of its latest change (`seq`): the change log is
-- compacted to the latest change of each record. `work_order_id` scopes records under an
-- order (an order's own id for the order); `customer_ref`/`equipment_ref` are what an
-- order points to; `owner_ref` is the engineer of a van-stock row.
CREATE TABLE records (
    entity        TEXT NOT NULL,
    id            TEXT NOT NULL,
    work_order_id TEXT,
    customer_ref  TEXT,
    equipment_ref TEXT,
    owner_ref     TEXT,
    row           TEXT NOT NULL,
    clocks        TEXT NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    seq           INTEGER NOT NULL,
    PRIMARY KEY (entity, id)
) STRICT;
CREATE UNIQUE INDEX records_seq ON records (seq);
CREATE INDEX records_work_order ON records (work_order_id) WHERE work_order_id IS NOT NULL;

CREATE TABLE assignments (
    work_order_id TEXT NOT NULL,
    engineer_id   TEXT NOT NULL,
    manager       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (work_order_id, engineer_id)
) STRICT;
CREATE INDEX assignments_engineer ON assignments (engineer_id);

-- An order leaving an engineer's scope, at a change-log position of its own.
CREATE TABLE revocations (
    seq           INTEGER PRIMARY KEY,
    engineer_id   TEXT NOT NULL,
    work_order_id TEXT NOT NULL
) STRICT;
CREATE INDEX revocations_engineer ON revocations (engineer_id, seq);

-- Every operation ever pushed, by op_id, with its first result: a replay returns it.
CREATE TABLE ops (
    op_id     TEXT PRIMARY KEY,
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    op        TEXT NOT NULL,
    status    TEXT NOT NULL,
    reason    TEXT,
    at        INTEGER NOT NULL
) STRICT;
CREATE INDEX ops_status ON ops (status) WHERE status IN ('conflict', 'quarantined');

CREATE TABLE number_sequences (
    department TEXT NOT NULL,
    period     TEXT NOT NULL,
    last       INTEGER NOT NULL,
    PRIMARY KEY (department, period)
) STRICT;
