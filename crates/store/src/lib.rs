//! The client's local SQLite database: the engineer's complete working copy.
//!
//! - [`Store::open`] checks, migrates (with a backup first) and opens the file;
//! - `write`: every local write and its outbox operation in one transaction;
//! - `merge`: pulled changes and push results, with pending operations kept on top;
//! - `query`: what the screens read (urgency list, search, one order, history, van stock).
//!
//! rusqlite is synchronous: the owner of a [`Store`] keeps it on one thread (or behind
//! `spawn_blocking`), never on the async runtime or the UI thread.

mod blobs;
mod bootstrap;
mod cipher;
mod index;
#[cfg(feature = "keychain")]
pub mod keychain;
mod merge;
mod migrate;
mod query;
mod raw;
mod row;
mod write;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use onsite_domain::sla::SlaConfig;
use onsite_domain::{DomainError, Hlc, HlcClock};
use rusqlite::{Connection, OptionalExtension, params};

pub use bootstrap::{Bootstrap, BootstrapStats, SnapshotLines, SnapshotReader};
pub use cipher::DbKey;
pub use merge::{ApplyStats, OpOutcome};
pub use migrate::SCHEMA_VERSION;
pub use query::{Page, VanStockLine, WorkOrderDetail, WorkOrderSummary};

/// What can go wrong in the local store, each saying what the engineer can do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the local database {path} is damaged ({detail}). Nothing is deleted: move it aside (it is kept, renamed, for support) and sign in again to download your work{backup}",
        backup = backup.as_ref().map(|b| format!(" (an earlier backup is at {})", b.display())).unwrap_or_default()
    )]
    Corrupt {
        path: PathBuf,
        detail: String,
        backup: Option<PathBuf>,
    },
    #[error(
        "the local database {path} was written by a newer Onsite (schema {found}, this build knows {known}): update Onsite"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "the local database {path} is open in another Onsite window on this laptop: use that window, or close it and start Onsite again"
    )]
    InUse { path: PathBuf },
    #[error("{0}")]
    Rule(#[from] DomainError),
    #[error("{entity} {id} is not on this laptop: sync, or check that it is assigned to you")]
    NotFound { entity: String, id: String },
    #[error(
        "{entity} {id} exists already: append-only records are never replaced, append a correction"
    )]
    AlreadyExists { entity: String, id: String },
    #[error("a stored {what} could not be read ({detail}): sync again to repair it")]
    BadData { what: String, detail: String },
    #[error(
        "the local database {path} cannot be opened with this laptop's key (it was encrypted with another one): move it aside and sync again"
    )]
    WrongKey { path: PathBuf },
    #[error(
        "the system keyring cannot be used ({0}): unlock it (or install a Secret Service such as gnome-keyring) and start Onsite again"
    )]
    Keyring(String),
    #[error(
        "the disk of this laptop is full: free some space (delete large files you no longer need), then try again. Everything saved before is kept"
    )]
    DiskFull,
    #[error("database error: {0}")]
    Sql(rusqlite::Error),
    #[error("file error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if disk_full(&e) {
            StoreError::DiskFull
        } else {
            StoreError::Sql(e)
        }
    }
}

/// SQLite's "database or disk is full", and the form a full disk takes when the database
/// was closed cleanly (its `-shm` index deleted): the index cannot be made again, even
/// to read, and SQLite says `SQLITE_IOERR_SHMSIZE` ("disk I/O error") whatever the
/// kernel said (measured on a full tmpfs).
fn disk_full(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => {
            f.code == rusqlite::ErrorCode::DiskFull
                || matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_IOERR_SHMSIZE | rusqlite::ffi::SQLITE_IOERR_SHMMAP
                )
        }
        _ => false,
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// This device's id, used in HLC stamps. Kept from the first open on.
    pub device_id: String,
    /// The key the database is encrypted with (SQLCipher); `None`: not encrypted (tests
    /// and tools only: the app always gives one).
    pub key: Option<DbKey>,
}

/// The local database of one engineer's laptop.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    clock: HlcClock,
    sla: SlaConfig,
    /// The integrity check that ran at open: `quick_check`, or `integrity_check` after an
    /// unclean shutdown.
    pub opened_with: &'static str,
    /// An exclusive lock on `<database>.lock`, held while the store is open: one store per
    /// database file, so that nothing else has the file open when a first sync renames a
    /// new one over it, and two windows never work on the same data.
    _lock: std::fs::File,
    /// What the database is encrypted with: a first sync's new file gets it too.
    key: Option<DbKey>,
    /// What its photo files are sealed with (derived from `key`).
    blob_key: Option<blobs::BlobKey>,
    /// Where the app's secrets (session tokens) are kept: never in the database.
    secrets: Secrets,
}

/// Where a store keeps secrets.
#[derive(Debug, Clone)]
enum Secrets {
    /// In this process's memory only, by database (tests and tools).
    Memory,
    /// In the system keyring, by data folder (the app).
    #[cfg(feature = "keychain")]
    Keyring(PathBuf),
}

/// The secrets of stores that keep them in memory, by database path and name.
static MEMORY_SECRETS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<(PathBuf, String), String>>,
> = std::sync::LazyLock::new(Default::default);

impl Store {
    /// Server time minus this laptop's time, as measured at the last sync.
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock.offset_ms()
    }

    /// Opens (creating if needed) the store at `path`: checks its integrity, backs it up
    /// and migrates it when the schema is older, and resumes the device's clock.
    pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Store> {
        Store::open_at(path.as_ref(), options, migrate::SCHEMA_VERSION)
    }

    /// Opens the store as the release whose schema was `version` made it (the migrations
    /// up to that one): an older app's database, for the tests of an upgrade.
    #[cfg(feature = "test-hooks")]
    pub fn open_as_release(
        path: impl AsRef<Path>,
        options: &OpenOptions,
        version: i64,
    ) -> Result<Store> {
        Store::open_at(path.as_ref(), options, version)
    }

    /// Makes the disk look full to this store (SQLite's own "database or disk is full"
    /// once the file would grow by more than a few pages), or gives the room back.
    #[cfg(feature = "test-hooks")]
    pub fn disk_full(&self, full: bool) -> Result<()> {
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let limit = if full { pages + 2 } else { 1_073_741_823 };
        self.conn
            .query_row(&format!("PRAGMA max_page_count = {limit}"), [], |_| Ok(()))?;
        Ok(())
    }

    fn open_at(path: &Path, options: &OpenOptions, version: i64) -> Result<Store> {
        let path = path.to_path_buf();
        let lock = lock_file(&path)?;
        let mut conn = cipher::open(&path, options.key.as_ref())?;
        configure(&conn)?;
        let opened_with = migrate::check_integrity(&conn, &path, false)?;
        migrate::migrate_to(&mut conn, &path, version)?;
        let device_id = match meta_get(&conn, "device_id")? {
            Some(d) => d,
            None => {
                meta_set(&conn, "device_id", &options.device_id)?;
                options.device_id.clone()
            }
        };
        let last = match meta_get(&conn, "hlc_last")? {
            Some(s) => s.parse::<Hlc>()?,
            None => Hlc::zero(&device_id)?,
        };
        let offset = meta_get(&conn, "hlc_offset_ms")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let clock = HlcClock::resume(last, offset);
        let sla = match conn
            .query_row(
                "SELECT body FROM record WHERE entity = 'fault_levels' ORDER BY id LIMIT 1",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()?
        {
            Some(body) => serde_json::from_str(&body).map_err(|e| StoreError::BadData {
                what: "fault level table".into(),
                detail: e.to_string(),
            })?,
            None => SlaConfig::default(),
        };
        // The order list is derived from the records: made again, once, when this version
        // of Onsite derives it differently from the one that made it.
        if meta_get(&conn, "list_version")?.as_deref() != Some(index::LIST_VERSION) {
            let tx = conn.transaction()?;
            index::reindex_all(&tx, &sla)?;
            meta_set(&tx, "list_version", index::LIST_VERSION)?;
            tx.commit()?;
        }
        // Cleared again by `close`: finding it set at the next open means a crash.
        meta_set(&conn, "clean_shutdown", "0")?;
        let store = Store {
            conn,
            path,
            clock,
            sla,
            opened_with,
            _lock: lock,
            key: options.key.clone(),
            blob_key: options.key.as_ref().map(blobs::BlobKey::derive),
            secrets: Secrets::Memory,
        };
        store.seal_blobs_at_open()?;
        Ok(store)
    }

    /// Moves a damaged database aside (kept, renamed with a timestamp, for support) so that
    /// a fresh one can be created and filled by sync. Returns where it went.
    pub fn move_aside(path: impl AsRef<Path>, now: DateTime<Utc>) -> Result<PathBuf> {
        let path = path.as_ref();
        let target = path.with_extension(format!("damaged-{}.db", now.format("%Y%m%dT%H%M%S")));
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", path.display()));
            if from.exists() {
                let to = PathBuf::from(format!("{}{suffix}", target.display()));
                std::fs::rename(&from, &to).map_err(|source| StoreError::Io {
                    path: from.clone(),
                    source,
                })?;
            }
        }
        Ok(target)
    }

    /// Runs the full `integrity_check` (tables, indexes and the search index) now.
    pub fn verify(&self) -> Result<()> {
        migrate::check_integrity(&self.conn, &self.path, true).map(|_| ())
    }

    /// Keeps this store's secrets (session tokens) in the system keyring, under its data
    /// folder, instead of this process's memory.
    #[cfg(feature = "keychain")]
    pub fn keep_secrets_in_keyring(&mut self) {
        let dir = self
            .path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        self.secrets = Secrets::Keyring(dir);
    }

    /// A secret of the app (a session token): from the keyring, never from the database.
    pub fn secret(&self, name: &str) -> Result<Option<String>> {
        match &self.secrets {
            Secrets::Memory => Ok(MEMORY_SECRETS
                .lock()
                .map_err(|_| StoreError::Keyring("the secrets lock was poisoned".into()))?
                .get(&(self.path.clone(), name.to_owned()))
                .cloned()),
            #[cfg(feature = "keychain")]
            Secrets::Keyring(dir) => keychain::secret(dir, name),
        }
    }

    /// Keeps a secret of the app (`None` forgets it).
    pub fn set_secret(&self, name: &str, value: Option<&str>) -> Result<()> {
        match &self.secrets {
            Secrets::Memory => {
                let mut all = MEMORY_SECRETS
                    .lock()
                    .map_err(|_| StoreError::Keyring("the secrets lock was poisoned".into()))?;
                let k = (self.path.clone(), name.to_owned());
                match value {
                    Some(v) => all.insert(k, v.to_owned()),
                    None => all.remove(&k),
                };
                Ok(())
            }
            #[cfg(feature = "keychain")]
            Secrets::Keyring(dir) => keychain::set_secret(dir, name, value),
        }
    }

    /// A setting of the app (signed-in session, language…), kept in the local database so
    /// that it survives a restart and works offline.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        meta_get(&self.conn, &format!("app.{key}"))
    }

    /// Saves a setting, on disk when this returns.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        meta_set(&self.conn, &format!("app.{key}"), value)
    }

    /// Forgets a setting (signing out).
    pub fn clear_setting(&self, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM meta WHERE key = ?1")?
            .execute(params![format!("app.{key}")])?;
        Ok(())
    }

    /// Copies the WAL back into the database file and truncates it. The sync engine calls
    /// this when a cycle is over (the app is idle); it never blocks readers.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        Ok(())
    }

    /// Closes cleanly, so the next open runs the quick check only.
    pub fn close(self) -> Result<()> {
        meta_set(&self.conn, "clean_shutdown", "1")?;
        self.checkpoint()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn device_id(&self) -> &str {
        self.clock.device()
    }

    /// The SLA table in force (synced reference data, or the default).
    pub fn sla(&self) -> &SlaConfig {
        &self.sla
    }

    /// The cursor of the last pulled page, `None` before the first sync.
    pub fn cursor(&self) -> Result<Option<String>> {
        meta_get(&self.conn, "cursor")
    }

    /// Stamps a local event with the HLC and persists the clock inside the caller's
    /// transaction, so a stamp is never reused after a crash.
    fn stamp(clock: &mut HlcClock, tx: &Connection, now: DateTime<Utc>) -> Result<Hlc> {
        let hlc = clock.tick(now);
        meta_set(tx, "hlc_last", &hlc.to_string())?;
        Ok(hlc)
    }
}

/// Takes the exclusive lock that makes a store the only one on its database file.
fn lock_file(path: &Path) -> Result<std::fs::File> {
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let io = |source| StoreError::Io {
        path: lock_path.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io)?;
    // A lock can outlive its holder by a moment: an Onsite closed just before this start
    // is still exiting, or a process being started elsewhere (a helper, the updater) holds
    // a copy of every descriptor between its fork and its exec. So a held lock is asked
    // again for a second before the database is called in use.
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::InUse {
                    path: path.to_path_buf(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
}

/// How long a start waits for another holder of the database's lock to let it go.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// The settings of the store's connection.
pub(crate) fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Durable before the UI says saved: WAL with a sync at every commit.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A laptop has memory to spare: 64 MB of page cache, reads through mmap.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "mmap_size", 268_435_456)?;
    conn.set_prepared_statement_cache_capacity(128);
    // Copying the WAL back into the file (a checkpoint) is done when sync is idle, by
    // `checkpoint`; the automatic one is only a safety net at ~64 MB of WAL, so that
    // a pull does not stop halfway to copy pages.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    Ok(())
}

pub(crate) fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
        .execute(params![key, value])?;
    Ok(())
}
