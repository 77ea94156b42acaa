-- Onsite local store, version 1.
-- Times in SQL columns are integer milliseconds since the Unix epoch (UTC); inside JSON
-- bodies they are RFC 3339 text, as on the wire.

-- Device identity, HLC state, sync cursor, session: one row per key.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Every synced record, whatever its entity: the visible row (server state with the
-- pending local operations on top) and, while operations are pending, the server's row
-- they were made on (`base_body`: SQL NULL = no pending divergence, JSON 'null' = the
-- record does not exist on the server yet).
CREATE TABLE record (
    entity        TEXT NOT NULL,
    id            TEXT NOT NULL,
    work_order_id TEXT,
    body          TEXT NOT NULL,
    clocks        TEXT NOT NULL DEFAULT '{}',
    base_body     TEXT,
    base_clocks   TEXT,
    deleted       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity, id)
) STRICT;
CREATE INDEX record_pending ON record (entity, id) WHERE base_body IS NOT NULL;
CREATE INDEX record_by_work_order ON record (work_order_id, entity) WHERE work_order_id IS NOT NULL;

-- One line per work order: what the list sorts, filters and shows, kept in step with
-- `record` by the store (never written elsewhere). Also the content of the search index.
CREATE TABLE work_order_index (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    is_open         INTEGER NOT NULL,
    fault_level     INTEGER NOT NULL,
    service_type    TEXT,
    reported_at     INTEGER NOT NULL,
    -- The deadline that matters in this status (ms), or 9e18 when none: sorts last.
    due_at          INTEGER NOT NULL,
    due_kind        TEXT,
    customer_id     TEXT,
    equipment_id    TEXT,
    customer        TEXT NOT NULL,
    -- Model and serial, as searched.
    equipment       TEXT NOT NULL,
    equipment_model TEXT,
    fault           TEXT NOT NULL,
    revoked         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX work_order_urgency ON work_order_index (is_open, due_at, reported_at);
CREATE INDEX work_order_by_equipment ON work_order_index (equipment_id, reported_at);
CREATE INDEX work_order_by_customer ON work_order_index (customer_id);

-- Full-text search over what an engineer types: number, customer, equipment model and
-- serial, fault description. Trigram, so that Chinese substrings are found. External
-- content (the text is stored once, in `work_order_index`). The fault description has an
-- index of its own: it is the text that changes most, and re-indexing it alone costs a
-- third of re-indexing the whole row.
CREATE VIRTUAL TABLE work_order_fts USING fts5 (
    number, customer, equipment,
    content = 'work_order_index', content_rowid = 'seq',
    tokenize = 'trigram'
);
CREATE VIRTUAL TABLE work_order_fault_fts USING fts5 (
    fault,
    content = 'work_order_index', content_rowid = 'seq',
    tokenize = 'trigram'
);

-- Operations not yet acknowledged by the server, in the order they were made.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id      TEXT NOT NULL UNIQUE,
    entity     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    op         TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_by_record ON outbox (entity, record_id);

-- Operations the server did not apply (rejected, conflict, quarantined): kept forever,
-- shown to the engineer, never silently dropped.
CREATE TABLE op_outcome (
    op_id      TEXT PRIMARY KEY,
    entity     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    op         TEXT NOT NULL,
    status     TEXT NOT NULL,
    reason     TEXT,
    decided_at INTEGER NOT NULL,
    seen       INTEGER NOT NULL DEFAULT 0
) STRICT;
