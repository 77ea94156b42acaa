//! The server's storage, behind one trait so that the HTTP layer does not know which
//! database holds the data. `SqliteStorage` (embedded, the default) implements it; a
//! PostgreSQL implementation fits the same trait. Methods are synchronous: handlers call
//! them through `spawn_blocking`.

use chrono::{DateTime, Utc};
use onsite_domain::protocol::{Entity, Op, OpResult};
use onsite_domain::records::User;
use onsite_domain::{DomainError, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// How many storage calls the HTTP layer lets run at once; the others wait in arrival
/// order without a thread. Enough that a call waiting on the disk or on the writer does
/// not leave the cores idle; few enough that the SQLite storage keeps a reader connection
/// for each and reuses it, instead of 200 waiting engineers meaning 200 threads each
/// opening and closing a connection for one query.
pub const CONCURRENT_CALLS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Rule(#[from] DomainError),
    /// The database is held by someone else for longer than a request waits.
    #[error("the server's storage is busy ({0})")]
    Busy(String),
    /// The caller's cursor is not of this database's history (restored from a backup):
    /// sync again from scratch.
    #[error("{0}")]
    Resync(String),
    /// The disk is full: nothing was written.
    #[error("the server's disk is full ({0}); nothing was written: make room on it")]
    Full(String),
    #[error("database: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        // A database closed cleanly has no `-shm` index; on a full disk SQLite cannot make
        // it again, even to read, and says `SQLITE_IOERR_SHMSIZE` ("disk I/O error")
        // whatever the kernel said (measured on a full tmpfs): a full disk too.
        let index_cannot_grow = matches!(
            &e,
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_IOERR_SHMSIZE | rusqlite::ffi::SQLITE_IOERR_SHMMAP
                )
        );
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StorageError::Busy(e.to_string())
            }
            Some(ErrorCode::DiskFull) => StorageError::Full(e.to_string()),
            _ if index_cannot_grow => StorageError::Full(e.to_string()),
            _ => StorageError::Database(e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A session, as found by its token.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub device_id: String,
}

/// A new user, with the Argon2id hash of their password.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub name: String,
    pub role: onsite_domain::Role,
    pub department: Option<String>,
    pub password_hash: String,
}

/// What an operator does to an account. Every change but `Enable` ends all of the
/// user's sessions at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// The person can no longer sign in (left the company, lost the laptop).
    Disable,
    Enable,
    /// A new Argon2id password hash.
    SetPassword(String),
    /// Every device signs in again (a laptop was stolen).
    EndSessions,
}

/// One page of the change log for a user. Each change is the JSON text of a protocol
/// `Change`, written by the storage (SQLite's `json_object`): a first sync moves hundreds
/// of thousands of rows, and parsing each stored row only to print it again was most of
/// the server's work.
#[derive(Debug, Clone)]
pub struct PullPage {
    pub changes: Vec<String>,
    pub cursor: i64,
    pub has_more: bool,
}

pub use onsite_domain::protocol::UploadState;

/// What a piece did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PieceOutcome {
    /// Taken (or the blob was already complete): where the upload stands now.
    Accepted(UploadState),
    /// It does not start where the upload stands (or names another total): nothing changed.
    OutOfPlace(UploadState),
    /// The last piece arrived but the whole hashes to something else: the pieces were
    /// dropped, the upload starts over.
    HashMismatch { actual: String },
}

/// An operation the server kept without applying it (conflict or quarantine).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeptOp {
    /// The operation as it was pushed.
    #[schema(value_type = onsite_domain::protocol::Op)]
    pub op: Value,
    pub user_id: String,
    pub device_id: String,
    pub status: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

pub trait Storage: Send + Sync + 'static {
    /// The identity of this database's history: a cursor of another epoch is refused.
    fn epoch(&self) -> String;
    fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User>;
    /// The user and their password hash.
    fn user_by_username(&self, username: &str) -> Result<Option<(User, String)>>;
    fn create_session(
        &self,
        token_hash: &str,
        user_id: Uuid,
        device_id: &str,
        device_name: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>>;
    fn end_session(&self, token_hash: &str) -> Result<()>;
    /// Disables, enables, re-passwords an account or ends its sessions; the user and how
    /// many sessions ended. A disabled user's sign-ins and tokens are refused.
    fn manage_account(
        &self,
        username: &str,
        change: &AccountChange,
        now: DateTime<Utc>,
    ) -> Result<(User, usize)>;

    /// Applies pushed operations in one transaction; one result per operation, in order.
    fn push(&self, session: &Session, ops: &[Op], now: DateTime<Utc>) -> Result<Vec<OpResult>>;
    /// The changes after `cursor` in the user's scope, at most `limit`.
    fn pull(&self, user: &User, cursor: i64, limit: usize) -> Result<PullPage>;
    /// The user's whole scope as of one moment, for a first sync, written to `out` in
    /// pieces as the text of `GET /v1/sync/snapshot` (see `docs/protocol.md`): a header
    /// with the cursor to pull from afterwards, one line per live record, a trailer with
    /// the count. Returns the number of records. An error from `out` stops it.
    fn snapshot(&self, user: &User, out: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<u64>;

    /// Creates or replaces a record as the dispatcher (its fields all stamped now).
    fn admin_put(
        &self,
        entity: Entity,
        row: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Uuid>;
    /// Creates a record as the dispatcher; `Conflict` when its id is taken (a create call
    /// never overwrites: an order replaced that way skipped every transition check).
    fn admin_create(
        &self,
        entity: Entity,
        row: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Uuid>;
    /// Puts many records of one entity at once (seeding, imports): one transaction.
    fn admin_put_many(
        &self,
        entity: Entity,
        rows: Vec<Map<String, Value>>,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let n = rows.len();
        for row in rows {
            self.admin_put(entity, row, now)?;
        }
        Ok(n)
    }
    /// Assigns an order to engineers (replacing earlier ones): they receive its whole graph,
    /// those who lose it receive a revoke.
    fn assign(
        &self,
        work_order_id: Uuid,
        engineers: &[Uuid],
        manager: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// A dispatcher's transition (cancel, close).
    fn admin_transition(
        &self,
        work_order_id: Uuid,
        to: Status,
        role: onsite_domain::Role,
        now: DateTime<Utc>,
    ) -> Result<()>;
    fn work_orders(&self, status: Option<Status>) -> Result<Vec<Map<String, Value>>>;
    /// The live rows of one kind of reference data (templates, parts, …), oldest first.
    fn reference(&self, entity: Entity) -> Result<Vec<Map<String, Value>>>;
    fn kept_ops(&self, status: &str) -> Result<Vec<KeptOp>>;
    /// Stores a blob under its (already checked) SHA-256, sent by `sender` (who may then
    /// refer to it); false when it was there.
    fn put_blob(
        &self,
        sha256: &str,
        bytes: &[u8],
        sender: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// How far an upload in pieces of `sha256` has come.
    fn blob_upload(&self, sha256: &str) -> Result<UploadState>;
    /// Adds a piece at `offset` of a `total`-byte upload; the last piece completes it
    /// (the whole hashed against `sha256`). A piece that does not start where the server
    /// stands changes nothing and is answered with where it stands.
    fn put_blob_piece(
        &self,
        sha256: &str,
        offset: u64,
        total: u64,
        bytes: &[u8],
        sender: Uuid,
        now: DateTime<Utc>,
    ) -> Result<PieceOutcome>;
    /// A blob, if a record in the user's scope references it (`with_bytes` false: only
    /// whether it is there, as an empty vector).
    fn blob(&self, sha256: &str, user: &User, with_bytes: bool) -> Result<Option<Vec<u8>>>;
    /// The stored rows a printed document of order `id` is made from (the order, the
    /// records under it, its customer and equipment, parts, fee schedules, the company),
    /// as `(entity, JSON)`; `None` when the order is not in the user's scope.
    fn order_rows(&self, user: &User, id: Uuid) -> Result<Option<Vec<(Entity, String)>>>;
    /// The finished work orders (completed or closed) on equipment `id`, newest first,
    /// as stored: its earlier reports, which an engineer preparing a visit to it may read;
    /// `None` when the equipment is not in the user's scope.
    fn equipment_reports(&self, user: &User, id: Uuid) -> Result<Option<Vec<Value>>>;
    /// Publishes checklist template `row` (its `id` set) as the next version of that id,
    /// 1 for a new one, in one transaction: two publishers never get the same version.
    fn publish_template(&self, row: Map<String, Value>, now: DateTime<Utc>) -> Result<u32>;
    /// Leases `count` new numbers of `department` for the month of `local_date`.
    /// Digits of a record number's monthly sequence (`serve --number-width`; 2 = 01–99).
    fn number_width(&self) -> u8 {
        onsite_domain::numbering::DEFAULT_WIDTH
    }

    fn lease_numbers(
        &self,
        department: &onsite_domain::numbering::Department,
        local_date: chrono::NaiveDate,
        count: u32,
        width: u8,
    ) -> Result<Vec<String>>;
}
