//! A first sync written into a fresh database file, then put in place of the empty one.
//!
//! A first sync of a big scope is hundreds of thousands of rows. Written page by page
//! through the WAL of the live database, every page goes to disk twice (WAL, then the
//! checkpoint) and each commit flushes the search index; that was most of a first sync.
//! Here the server's snapshot (`GET /v1/sync/snapshot`) is written into a new file beside
//! the store, without a journal and in one transaction — nothing in it is the engineer's,
//! and a failure only throws the new file away — then indexed once, given this laptop's
//! settings, flushed to disk, and renamed over the store, whose database held nothing but
//! settings. Only a store with no records and nothing waiting to be sent is replaced; a
//! write that slips in meanwhile makes the bootstrap give way to an ordinary pull.
//!
//! Two threads share the work: a [`SnapshotReader`] cuts and checks the lines (and makes
//! the order list's rows from them), while the [`Bootstrap`] inserts the lines read before,
//! many rows to a statement. The indexes the rows do not arrive in order for are made at
//! the end, in one sorted pass each.
//!
//! Crash safety: until the rename the store is untouched (a leftover file is removed by the
//! next attempt); the rename is atomic; the live database was checkpointed and closed
//! before it, so no write-ahead log of the old file can be replayed into the new one.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use onsite_domain::protocol::SNAPSHOT_MAGIC;
use onsite_domain::sla::SlaConfig;
use onsite_domain::{Entity, Hlc};
use rusqlite::Connection;

use crate::raw::stamps;
use crate::{Result, Store, StoreError, index, meta_set, migrate};

/// What a bootstrap put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootstrapStats {
    pub records: u64,
    pub work_orders: u64,
}

/// A first sync being written into a new database file (see the module's notes). Feed it
/// the snapshot's bytes as they arrive, then hand it to [`Store::finish_bootstrap`].
///
/// Reading the bytes (cutting lines, checking them) and inserting them can run on two
/// threads: take the [`SnapshotReader`] out with [`Bootstrap::take_reader`], give it the
/// bytes on one thread, [`Bootstrap::write`] the lines it returns, in order, on another,
/// and put it back with [`Bootstrap::put_reader`] before finishing.
#[derive(Debug)]
pub struct Bootstrap {
    conn: Connection,
    path: PathBuf,
    /// Indexes of the record table dropped while rows arrive: (name, SQL).
    deferred: Vec<(String, String)>,
    reader: SnapshotReader,
    /// Records inserted so far.
    written: u64,
}

/// Reads a snapshot's bytes into checked lines, without touching a database: the header,
/// the records, the trailer, and what the bootstrap needs of them (the fault levels, the
/// newest clock stamp, the counts).
#[derive(Debug, Default)]
pub struct SnapshotReader {
    /// The end of a line that has not fully arrived yet.
    partial: Vec<u8>,
    header: Option<(String, DateTime<Utc>)>,
    trailer: Option<u64>,
    records: u64,
    work_orders: u64,
    sla: Option<SlaConfig>,
    newest: Option<String>,
    /// The order list, made as the lines are read.
    list: index::ListBuilder,
}

/// Complete record lines of a snapshot, read and checked, for [`Bootstrap::write`].
#[derive(Debug, Default)]
pub struct SnapshotLines {
    text: String,
    rows: Vec<RecordLine>,
}

/// Where one record's fields are in [`SnapshotLines::text`].
#[derive(Debug)]
struct RecordLine {
    entity: Entity,
    id: Range<usize>,
    /// The order it belongs to (a work order's own id); `None` outside orders.
    work_order_id: Option<Range<usize>>,
    row: Range<usize>,
    clocks: Range<usize>,
}

impl SnapshotLines {
    /// How many records these lines hold.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Snapshot rows are inserted this many to a statement: one statement a row spent a sixth
/// of the writer's time opening, seeking and closing its cursors.
const ROWS_PER_INSERT: usize = 64;

/// The statement inserting `rows` snapshot rows as they came (the file is new; a record
/// sent twice keeps the later line).
fn insert_records(rows: usize) -> String {
    let values = (0..rows)
        .map(|i| {
            let p = 5 * i;
            format!(
                "(?{}, ?{}, ?{}, ?{}, ?{})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO record (entity, id, work_order_id, body, clocks) VALUES {values}
         ON CONFLICT (entity, id) DO UPDATE SET body = excluded.body, clocks = excluded.clocks"
    )
}

static INSERT_RECORDS: LazyLock<[String; 2]> =
    LazyLock::new(|| [insert_records(1), insert_records(ROWS_PER_INSERT)]);

/// An empty read-only database in memory: every write fails, and every read of the
/// store's tables (there are none) fails too.
fn refusing_connection() -> Result<Connection> {
    Ok(Connection::open_in_memory_with_flags(
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?)
}

fn bad(detail: impl Into<String>) -> StoreError {
    StoreError::BadData {
        what: "first-sync snapshot".into(),
        detail: detail.into(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    /// Whether a first sync may be written as a new database: no cursor yet, no records,
    /// nothing waiting to be sent.
    pub fn can_bootstrap(&self) -> Result<bool> {
        let busy: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM record) OR EXISTS (SELECT 1 FROM outbox)
                 OR EXISTS (SELECT 1 FROM meta WHERE key = 'cursor')",
            [],
            |r| r.get(0),
        )?;
        Ok(!busy)
    }

    /// Starts writing a first sync into a new file beside the store.
    pub fn begin_bootstrap(&self) -> Result<Bootstrap> {
        let path = PathBuf::from(format!("{}.first-sync", self.path.display()));
        for p in [
            path.clone(),
            PathBuf::from(format!("{}-journal", path.display())),
        ] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p)(e)),
            }
        }
        let mut conn = crate::cipher::open(&path, self.key.as_ref())?;
        // Nothing here is the engineer's until the rename: no journal, no syncs; the file
        // is flushed once, whole, before it replaces anything.
        // Pages of 16 KiB: a first sync of 10,000 orders was a quarter faster than with
        // the default 4 KiB (fewer, fuller B-tree pages); the file keeps them for good.
        conn.pragma_update(None, "page_size", 16_384)?;
        conn.pragma_update(None, "journal_mode", "OFF")?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        // A small page cache (8 MB): rows are appended, so only the right edges of the
        // B-trees are hot, and full pages go to the file as they fill (flushed to disk on
        // another thread while the indexes are made). Against 256 MB, which kept the whole
        // file in memory until the commit, a first sync of 10,000 orders took 1.0-1.3 s
        // instead of 1.2-1.5 s: no fresh memory to fault in, a short commit and flush.
        // Encrypted, a page evicted and read again is decrypted and checked again: a larger
        // cache keeps the pages that are hit again (store bench, 10,000 orders: 8 MB
        // 1.31 s, 32 MB 1.06 s, 64 MB 1.13 s).
        let cache_kib: i64 = if self.key.is_some() { 32_768 } else { 8_192 };
        conn.pragma_update(None, "cache_size", -cache_kib)?;
        conn.set_prepared_statement_cache_capacity(32);
        migrate::migrate_to(&mut conn, &path, migrate::SCHEMA_VERSION)?;
        // The index of records by order is built after the rows, in one sorted pass,
        // from the very statement the schema made it with (the rows arrive in no useful
        // order for it). The index of pending records stays: no snapshot row enters it.
        let deferred: Vec<(String, String)> = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master
                 WHERE type = 'index' AND name = ?1 AND sql IS NOT NULL",
            )?
            .query_map(["record_by_work_order"], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        conn.execute_batch("BEGIN")?;
        for (name, _) in &deferred {
            conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
        }
        Ok(Bootstrap {
            conn,
            path,
            deferred,
            reader: SnapshotReader {
                list: index::ListBuilder::new(self.sla.clone()),
                ..SnapshotReader::default()
            },
            written: 0,
        })
    }

    /// Puts a complete bootstrap in place of this (empty) store. Refused, with the new file
    /// removed and the store unchanged, when the snapshot was cut off or when the store
    /// got records or pending work meanwhile (the caller then pulls as usual).
    pub fn finish_bootstrap(
        &mut self,
        mut boot: Bootstrap,
        local_now: DateTime<Utc>,
    ) -> Result<Option<BootstrapStats>> {
        let done = boot.complete_header();
        if done.is_none() || !self.can_bootstrap()? {
            boot.discard();
            return match done {
                None => Err(bad("the snapshot was cut off before its end: sync again")),
                Some(_) => Ok(None),
            };
        }
        match self.put_in_place(&mut boot, local_now) {
            Ok(stats) => Ok(Some(stats)),
            Err(e) => {
                boot.discard();
                Err(e)
            }
        }
    }

    fn put_in_place(
        &mut self,
        boot: &mut Bootstrap,
        local_now: DateTime<Utc>,
    ) -> Result<BootstrapStats> {
        let (cursor, server_time) = boot
            .reader
            .header
            .clone()
            .ok_or_else(|| bad("no header line"))?;
        let sla = boot.reader.sla.clone().unwrap_or_else(|| self.sla.clone());
        // Most of the file was written while the rows arrived (the page cache is small):
        // flushed to disk meanwhile, on another thread, while the indexes are made here.
        let early_flush = std::fs::File::open(&boot.path)
            .map(|f| std::thread::spawn(move || f.sync_data()))
            .ok();
        for (_, sql) in &boot.deferred {
            boot.conn.execute_batch(sql)?;
        }
        // The order list (made while the rows arrived) and its search, built once for the
        // whole scope.
        std::mem::take(&mut boot.reader.list).write(&boot.conn)?;
        let mut clock = self.clock.clone();
        clock.set_server_offset(server_time, local_now);
        if let Some(stamp) = boot
            .reader
            .newest
            .as_deref()
            .and_then(|s| s.parse::<Hlc>().ok())
        {
            clock.observe(&stamp, local_now);
        }
        meta_set(&boot.conn, "cursor", &cursor)?;
        meta_set(&boot.conn, "hlc_offset_ms", &clock.offset_ms().to_string())?;
        meta_set(&boot.conn, "hlc_last", &clock.last().to_string())?;
        boot.conn.execute_batch("COMMIT")?;
        // This laptop's settings (device id, session, leased numbers, …) and the verdicts
        // it keeps, copied while the store's lock is held: nothing can change them now.
        crate::cipher::attach(&boot.conn, &self.path, "live", self.key.as_ref())?;
        boot.conn.execute_batch(
            "BEGIN;
             INSERT INTO main.meta (key, value) SELECT key, value FROM live.meta
               WHERE key NOT IN ('cursor', 'hlc_offset_ms', 'hlc_last');
             INSERT INTO main.op_outcome SELECT * FROM live.op_outcome;
             COMMIT;
             DETACH DATABASE live;",
        )?;
        let stats = BootstrapStats {
            records: boot.written,
            work_orders: boot.reader.work_orders,
        };
        // Closed and flushed whole before it replaces anything.
        let conn = std::mem::replace(&mut boot.conn, Connection::open_in_memory()?);
        conn.close().map_err(|(_, e)| StoreError::from(e))?;
        if let Some(flush) = early_flush {
            // Its outcome does not matter: the flush below is the one that counts.
            let _ = flush.join();
        }
        std::fs::File::open(&boot.path)
            .and_then(|f| f.sync_all())
            .map_err(io(&boot.path))?;
        // The live database: checkpointed and closed, so that its write-ahead log is gone
        // and cannot be replayed into the new file.
        self.checkpoint()?;
        // Until the new file is open the store holds a connection that refuses every read
        // and write: should the reopen fail, the engineer's next writes fail with an error
        // rather than go into memory and be lost.
        let old = std::mem::replace(&mut self.conn, refusing_connection()?);
        if let Err((conn, e)) = old.close() {
            self.conn = conn;
            return Err(StoreError::from(e));
        }
        for suffix in ["-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", self.path.display()));
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return self.reopen_after(Err(io(&p)(e))),
            }
        }
        let renamed = std::fs::rename(&boot.path, &self.path).map_err(io(&self.path));
        if renamed.is_ok()
            && let Some(dir) = self.path.parent()
        {
            // The rename itself made durable.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        self.reopen_after(renamed)?;
        self.clock = clock;
        self.sla = sla;
        Ok(stats)
    }

    /// Opens the store's file again after a swap (or a failed one) and returns `outcome`.
    fn reopen_after<T>(&mut self, outcome: Result<T>) -> Result<T> {
        let conn = crate::cipher::open(&self.path, self.key.as_ref())?;
        crate::configure(&conn)?;
        meta_set(&conn, "clean_shutdown", "0")?;
        self.conn = conn;
        outcome
    }
}

impl Bootstrap {
    /// Takes the next bytes of the snapshot; whole lines are written as they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        let lines = self.reader.read(bytes)?;
        self.write(&lines)
    }

    /// Inserts lines read by this bootstrap's reader (see [`Bootstrap::take_reader`]), in
    /// the order it returned them.
    pub fn write(&mut self, lines: &SnapshotLines) -> Result<()> {
        if lines.rows.is_empty() {
            return Ok(());
        }
        let text = lines.text.as_str();
        let [one, many] = &*INSERT_RECORDS;
        let mut chunks = lines.rows.chunks_exact(ROWS_PER_INSERT);
        let mut insert = self.conn.prepare_cached(many)?;
        for chunk in chunks.by_ref() {
            bind_records(&mut insert, text, chunk)?;
            insert.raw_execute()?;
        }
        let mut insert = self.conn.prepare_cached(one)?;
        for r in chunks.remainder() {
            bind_records(&mut insert, text, std::slice::from_ref(r))?;
            insert.raw_execute()?;
        }
        self.written += lines.rows.len() as u64;
        Ok(())
    }

    /// The reader of the snapshot's bytes, to be run on another thread; a fresh one is
    /// left in its place until [`Bootstrap::put_reader`].
    pub fn take_reader(&mut self) -> SnapshotReader {
        std::mem::take(&mut self.reader)
    }

    /// Gives back the reader taken with [`Bootstrap::take_reader`], with everything it read.
    pub fn put_reader(&mut self, reader: SnapshotReader) {
        self.reader = reader;
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.written
    }

    /// The cursor and server time of a snapshot that arrived whole and was written whole.
    fn complete_header(&self) -> Option<(String, DateTime<Utc>)> {
        let r = &self.reader;
        match r.trailer {
            Some(n) if n == r.records && n == self.written && r.partial.is_empty() => {
                r.header.clone()
            }
            _ => None,
        }
    }

    fn discard(&mut self) {
        if let Ok(conn) = Connection::open_in_memory() {
            let _ = std::mem::replace(&mut self.conn, conn).close();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the five values of each of `rows` to an insert of that many rows.
fn bind_records(
    insert: &mut rusqlite::Statement<'_>,
    text: &str,
    rows: &[RecordLine],
) -> Result<()> {
    for (i, r) in rows.iter().enumerate() {
        let p = 5 * i;
        insert.raw_bind_parameter(p + 1, r.entity.as_str())?;
        insert.raw_bind_parameter(p + 2, &text[r.id.clone()])?;
        insert.raw_bind_parameter(p + 3, r.work_order_id.clone().map(|w| &text[w]))?;
        insert.raw_bind_parameter(p + 4, &text[r.row.clone()])?;
        insert.raw_bind_parameter(p + 5, &text[r.clocks.clone()])?;
    }
    Ok(())
}

impl SnapshotReader {
    /// Takes the next bytes of the snapshot and returns the record lines they complete
    /// (the end of a line that has not fully arrived is kept for the next bytes).
    pub fn read(&mut self, bytes: &[u8]) -> Result<SnapshotLines> {
        let Some(last) = memchr::memrchr(b'\n', bytes) else {
            self.partial.extend_from_slice(bytes);
            return Ok(SnapshotLines::default());
        };
        let mut text = std::mem::take(&mut self.partial);
        text.extend_from_slice(&bytes[..=last]);
        self.partial.extend_from_slice(&bytes[last + 1..]);
        // Lines end at a newline, which is never inside a character: whole lines are
        // whole characters.
        let text =
            String::from_utf8(text).map_err(|e| bad(format!("not UTF-8: {}", e.utf8_error())))?;
        let mut rows = Vec::new();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
            if let Some(row) = self.line(&text, start, end)? {
                rows.push(row);
            }
            start = end + 1;
        }
        Ok(SnapshotLines { text, rows })
    }

    /// Reads the line `text[start..end]`: the header, a record or the trailer.
    fn line(&mut self, text: &str, start: usize, end: usize) -> Result<Option<RecordLine>> {
        let line = &text[start..end];
        if self.trailer.is_some() {
            return Err(bad("a line after the end"));
        }
        if self.header.is_none() {
            let mut parts = line.split('\t');
            return match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(SNAPSHOT_MAGIC), Some(cursor), Some(at), epoch) if !cursor.is_empty() => {
                    let at = at
                        .parse::<DateTime<Utc>>()
                        .map_err(|e| bad(format!("server time {at:?}: {e}")))?;
                    // Kept as the laptop keeps every cursor, `position.epoch`, so that the
                    // next pull names the history it is of (a restored server refuses it).
                    let kept = match epoch.filter(|e| !e.is_empty()) {
                        Some(epoch) => format!("{cursor}.{epoch}"),
                        None => cursor.to_owned(),
                    };
                    self.header = Some((kept, at));
                    Ok(None)
                }
                _ => Err(bad(format!(
                    "not a snapshot this version of Onsite reads (it begins {:?}): update Onsite",
                    line.chars().take(40).collect::<String>()
                ))),
            };
        }
        if let Some(n) = line.strip_prefix("end\t") {
            self.trailer = Some(n.parse().map_err(|_| bad(format!("trailer {line:?}")))?);
            return Ok(None);
        }
        // Five fields: entity, id and order id (short, first), the row, the clocks (last).
        // JSON holds no raw tab, so the clocks begin after the last one.
        let b = line.as_bytes();
        let tab = |from: usize| memchr::memchr(b'\t', &b[from..]).map(|i| from + i);
        let cut = tab(0).and_then(|t1| {
            let t2 = tab(t1 + 1)?;
            let t3 = tab(t2 + 1)?;
            let t4 = memchr::memrchr(b'\t', b).filter(|t4| *t4 > t3)?;
            Some((t1, t2, t3, t4))
        });
        let Some((t1, t2, t3, t4)) = cut else {
            return Err(bad(format!(
                "a line without its five fields: {:?}",
                line.chars().take(80).collect::<String>()
            )));
        };
        let entity: Entity = line[..t1].parse()?;
        let (id, work_order_id, row, clocks) = (
            &line[t1 + 1..t2],
            &line[t2 + 1..t3],
            &line[t3 + 1..t4],
            &line[t4 + 1..],
        );
        if uuid::Uuid::try_parse(id).is_err()
            || !(row.starts_with('{') && row.ends_with('}'))
            || !(clocks.starts_with('{') && clocks.ends_with('}'))
        {
            return Err(bad(format!("{entity} {id}: not a record line")));
        }
        // The newest stamp: local edits made after the first sync must order after it.
        for s in stamps(clocks).map_err(|e| bad(format!("{entity} {id} clocks: {e}")))? {
            if self.newest.as_deref().is_none_or(|n| n < s) {
                self.newest = Some(s.to_owned());
            }
        }
        match entity {
            Entity::FaultLevels => {
                let sla = serde_json::from_str(row).map_err(|e| StoreError::BadData {
                    what: "fault level table".into(),
                    detail: e.to_string(),
                })?;
                self.list.fault_levels(&sla);
                self.sla = Some(sla);
            }
            Entity::Customer => self.list.customer(id, row),
            Entity::Equipment => self.list.equipment(id, row),
            Entity::WorkOrder => {
                self.work_orders += 1;
                self.list.work_order(id, row);
            }
            _ => {}
        }
        let at = |from: usize, to: usize| start + from..start + to;
        let id_range = at(t1 + 1, t2);
        let work_order_id = match entity {
            Entity::WorkOrder => Some(id_range.clone()),
            _ if work_order_id.is_empty() => None,
            _ => Some(at(t2 + 1, t3)),
        };
        self.records += 1;
        Ok(Some(RecordLine {
            entity,
            id: id_range,
            work_order_id,
            row: at(t3 + 1, t4),
            clocks: at(t4 + 1, line.len()),
        }))
    }
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        // Put in place, the file has been renamed away; otherwise it is of no use.
        if self.path.exists() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::refusing_connection;

    #[test]
    fn the_connection_held_between_files_refuses_reads_and_writes() {
        let conn = refusing_connection().expect("opens");
        assert!(
            conn.execute_batch("CREATE TABLE record (id TEXT)").is_err(),
            "a write fails"
        );
        assert!(
            conn.query_row("SELECT count(*) FROM record", [], |r| r.get::<_, i64>(0))
                .is_err(),
            "a read fails"
        );
    }
}
