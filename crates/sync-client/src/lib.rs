//! The client's sync engine: one tokio task that pushes the outbox and pulls the server's
//! changes into the local store, whenever it can.
//!
//! - [`Client`]: the HTTP calls (login, push, pull, health);
//! - [`sync_once`]: one cycle — push the outbox in batches, pull to the end, checkpoint;
//!   safe to repeat after a crash anywhere in it (op_ids make pushes idempotent, a pulled
//!   page commits with its cursor);
//! - [`SyncEngine`]: triggers (start, a local write debounced, a timer, "sync now",
//!   reconnection), offline detection with exponential backoff and jitter, and a stream of
//!   [`SyncState`] for the UI.
//!
//! Knows nothing of Tauri. The store is synchronous: every call to it runs in
//! `spawn_blocking`, never on the async runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use onsite_domain::protocol::{
    MAX_BLOB_PIECE_BYTES, Op, PullResponse, PushRequest, PushResponse, UploadState,
};
use onsite_domain::records::User;
use onsite_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

/// What can stop a sync, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(
        "the server cannot be reached ({0}): working offline, everything is kept and sent later"
    )]
    Offline(String),
    #[error("the server address is not usable ({0}): type it like http://192.168.1.10:8787")]
    BadAddress(String),
    #[error("the session has expired or was ended: sign in again (nothing entered is lost)")]
    Unauthorized,
    #[error("the server refused the request ({status}): {message}")]
    Server {
        status: u16,
        message: String,
        /// How long the server asked to be left alone (`Retry-After`, on 429 and 503).
        retry_after: Option<Duration>,
    },
    #[error("the server answered something this app does not understand: {0}")]
    Protocol(String),
    /// The server's database is not the history this laptop's cursor is of (restored from
    /// a backup): sync again from the start, sending again what it had acknowledged.
    #[error("the server was restored from a backup ({0}): syncing again from the start")]
    ResyncRequired(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Worth retrying later by itself (network down, server restarting or overloaded).
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Offline(_) => true,
            SyncError::Server { status, .. } => *status >= 500 || *status == 429,
            // Retried until the engineer frees some space; the outbox is kept meanwhile.
            SyncError::Store(StoreError::DiskFull) => true,
            _ => false,
        }
    }

    /// The wait the server asked for, when it asked (`Retry-After` in seconds).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, SyncError>;

/// The server address as an engineer types it (`192.168.1.10:8787`, `https://host/`) in
/// the form requests are made with: a scheme (https when none is given, http for this
/// machine itself), no trailing `/`.
pub fn server_base(input: &str) -> Result<String> {
    let typed = input.trim();
    if typed.is_empty() {
        return Err(SyncError::BadAddress("it is empty".into()));
    }
    // No scheme: https, so that a password and a token never cross a network in the
    // clear because a scheme was left out; plain http only to this machine itself.
    let with_scheme = if typed.contains("://") {
        typed.to_owned()
    } else {
        let host = reqwest::Url::parse(&format!("http://{typed}"))
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        format!("{}://{typed}", if loopback { "http" } else { "https" })
    };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| SyncError::BadAddress(format!("{typed}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(SyncError::BadAddress(format!(
            "{typed}: not an http(s) address"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

const LAST_SYNCED_KEY: &str = "sync.last_synced_at";

/// When this laptop last finished a sync cycle (kept across restarts).
pub fn last_synced_at(store: &Store) -> Result<Option<DateTime<Utc>>> {
    Ok(store
        .setting(LAST_SYNCED_KEY)?
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// A signed-in session, as the app keeps it across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
    pub device_id: String,
}

impl Session {
    const KEY: &'static str = "session";
    /// The token is a secret: kept in the system keyring, never in the database.
    const TOKEN: &'static str = "session-token";

    /// Keeps the session (its token in the keyring, the rest in the local store): after
    /// the first sign-in the app opens signed in, online or not.
    pub fn save(&self, store: &Store) -> Result<()> {
        let mut kept = self.clone();
        kept.token = String::new();
        let json = serde_json::to_string(&kept).map_err(|e| SyncError::Protocol(e.to_string()))?;
        store.set_secret(Self::TOKEN, Some(&self.token))?;
        Ok(store.set_setting(Self::KEY, &json)?)
    }

    /// The kept session, if any (an unreadable one, or one whose token is gone from the
    /// keyring, counts as none: sign in again). A session an older Onsite kept with its
    /// token in the database has the token moved to the keyring.
    pub fn load(store: &Store) -> Result<Option<Session>> {
        let Some(session) = store
            .setting(Self::KEY)?
            .and_then(|json| serde_json::from_str::<Session>(&json).ok())
        else {
            return Ok(None);
        };
        if !session.token.is_empty() {
            session.save(store)?;
            return Ok(Some(session));
        }
        Ok(store
            .secret(Self::TOKEN)?
            .map(|token| Session { token, ..session }))
    }

    /// Signs out on this laptop (the work stays in the store and is sent after the next
    /// sign-in).
    pub fn forget(store: &Store) -> Result<()> {
        store.set_secret(Self::TOKEN, None)?;
        Ok(store.clear_setting(Self::KEY)?)
    }
}

/// Signed-out tokens not yet revoked on the server: secrets, kept in the keyring.
const REVOKE_KEY: &str = "signed-out-tokens";
/// Signed-out tokens kept for revoking at most: beyond that the oldest are dropped (they
/// still expire on the server after their 30 days).
const REVOKE_KEPT: usize = 20;

/// Tokens of sessions signed out here that the server has not yet been told of.
fn tokens_to_revoke(store: &Store) -> std::result::Result<Vec<(String, String)>, StoreError> {
    Ok(store
        .secret(REVOKE_KEY)?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

fn set_tokens_to_revoke(
    store: &Store,
    tokens: &[(String, String)],
) -> std::result::Result<(), StoreError> {
    let json = serde_json::to_string(tokens).map_err(|e| StoreError::BadData {
        what: "signed-out sessions".into(),
        detail: e.to_string(),
    })?;
    store.set_secret(REVOKE_KEY, Some(&json))
}

/// Signs out: the session is forgotten on this laptop at once and its token is revoked on
/// the server now if it answers, else by [`revoke_signed_out`] at a later sync. The work
/// stays in the store and is sent after the next sign-in.
pub async fn sign_out(store: &SharedStore, session: Option<Session>) -> Result<()> {
    with_store(store, move |s| {
        if let Some(session) = session {
            let mut tokens = tokens_to_revoke(s)?;
            tokens.push((session.server, session.token));
            let excess = tokens.len().saturating_sub(REVOKE_KEPT);
            tokens.drain(..excess);
            set_tokens_to_revoke(s, &tokens)?;
        }
        s.set_secret(Session::TOKEN, None)?;
        s.clear_setting(Session::KEY)
    })
    .await?;
    // A laptop offline at the customer's must not wait for the network to sign out.
    let _ = tokio::time::timeout(Duration::from_secs(3), revoke_signed_out(store)).await;
    Ok(())
}

/// Tells the server to end the sessions signed out here while it could not be reached;
/// those it answered for are forgotten. Returns how many were revoked.
pub async fn revoke_signed_out(store: &SharedStore) -> Result<usize> {
    let tokens = with_store(store, |s| tokens_to_revoke(s)).await?;
    if tokens.is_empty() {
        return Ok(0);
    }
    let mut done = Vec::new();
    for (server, token) in &tokens {
        let res = http()
            .post(format!("{server}/v1/auth/logout"))
            .bearer_auth(token)
            .send()
            .await;
        match res {
            // Ended now, or already ended (expired, or signed out elsewhere).
            Ok(r) if r.status().is_success() || r.status() == reqwest::StatusCode::UNAUTHORIZED => {
                done.push((server.clone(), token.clone()));
            }
            _ => {}
        }
    }
    if done.is_empty() {
        return Ok(0);
    }
    let n = done.len();
    with_store(store, move |s| {
        let left: Vec<(String, String)> = tokens_to_revoke(s)?
            .into_iter()
            .filter(|t| !done.contains(t))
            .collect();
        set_tokens_to_revoke(s, &left)
    })
    .await?;
    Ok(n)
}

#[derive(Debug, Deserialize)]
struct LoginAnswer {
    token: String,
    expires_at: DateTime<Utc>,
    user: User,
}

#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    error: ErrorBody,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    message: String,
}

/// The HTTP side of sync.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    device_id: String,
}

fn offline(e: &reqwest::Error) -> SyncError {
    SyncError::Offline(if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "no connection".into()
    } else {
        e.to_string()
    })
}

async fn answer<T: serde::de::DeserializeOwned>(res: reqwest::Response) -> Result<T> {
    let status = res.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(SyncError::Unauthorized);
    }
    let retry_after = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let bytes = res.bytes().await.map_err(|e| offline(&e))?;
    if !status.is_success() {
        let error = serde_json::from_slice::<ErrorAnswer>(&bytes).ok();
        if let Some(e) = &error
            && e.error.code == "resync_required"
        {
            return Err(SyncError::ResyncRequired(e.error.message.clone()));
        }
        let message = error
            .map(|e| e.error.message)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
        return Err(SyncError::Server {
            status: status.as_u16(),
            message,
            retry_after,
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| SyncError::Protocol(e.to_string()))
}

/// A pull page whose changes are kept as the JSON text they came in.
#[derive(Debug, Deserialize)]
pub struct RawPullResponse {
    pub changes: Vec<Box<serde_json::value::RawValue>>,
    pub cursor: String,
    pub has_more: bool,
    pub server_time: DateTime<Utc>,
    /// The identity of the server database's history the cursor is of.
    #[serde(default)]
    pub epoch: Option<String>,
}

impl RawPullResponse {
    /// The cursor as the laptop keeps it: `position.epoch`, so that the next pull names
    /// the history it continues and a restored server can tell.
    pub fn kept_cursor(&self) -> String {
        match &self.epoch {
            Some(e) => format!("{}.{e}", self.cursor),
            None => self.cursor.clone(),
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

impl Client {
    /// Signs in; a wrong password is `Server { status: 401 … }`-free: it is `Unauthorized`.
    pub async fn login(
        server: &str,
        username: &str,
        password: &str,
        device_id: &str,
        device_name: &str,
    ) -> Result<Session> {
        let base = server_base(server)?;
        let body = serde_json::json!({"username": username, "password": password, "device": {"id": device_id, "name": device_name}});
        let res = http()
            .post(format!("{base}/v1/auth/login"))
            .json(&body)
            .send()
            .await
            .map_err(|e| offline(&e))?;
        let a: LoginAnswer = answer(res).await?;
        Ok(Session {
            server: base,
            token: a.token,
            expires_at: a.expires_at,
            user: a.user,
            device_id: device_id.to_owned(),
        })
    }

    pub fn new(session: &Session) -> Client {
        Client {
            http: http(),
            base: session.server.clone(),
            token: session.token.clone(),
            device_id: session.device_id.clone(),
        }
    }

    pub async fn push(&self, ops: Vec<Op>) -> Result<PushResponse> {
        let body = PushRequest {
            device_id: self.device_id.clone(),
            ops,
        };
        let res = self
            .http
            .post(format!("{}/v1/sync/push", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| offline(&e))?;
        answer(res).await
    }

    pub async fn pull(&self, cursor: Option<&str>, limit: usize) -> Result<PullResponse> {
        self.pull_as(cursor, limit).await
    }

    /// [`Client::pull`] with each change left as its JSON text, for
    /// [`Store::apply_pull_raw`]: what the sync engine uses.
    pub async fn pull_raw(&self, cursor: Option<&str>, limit: usize) -> Result<RawPullResponse> {
        self.pull_as(cursor, limit).await
    }

    async fn pull_as<T: serde::de::DeserializeOwned>(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<T> {
        let mut url = format!("{}/v1/sync/pull?limit={limit}", self.base);
        // A cursor is kept as `position.epoch` (see `kept_cursor`).
        if let Some(c) = cursor {
            match c.split_once('.') {
                Some((position, epoch)) => {
                    url.push_str(&format!("&cursor={position}&epoch={epoch}"));
                }
                None => url.push_str(&format!("&cursor={c}")),
            }
        }
        let res = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| offline(&e))?;
        answer(res).await
    }

    /// Starts `GET /v1/sync/snapshot` (the whole scope at one moment, for a first sync).
    /// `None` when the server has no snapshots (an older server: pull page by page).
    pub async fn snapshot(&self) -> Result<Option<reqwest::Response>> {
        let res = self
            .http
            .get(format!("{}/v1/sync/snapshot", self.base))
            .bearer_auth(&self.token)
            // A large scope over a slow link takes its time; a stalled one is cut by the
            // connection, and a cut snapshot is never used.
            .timeout(Duration::from_secs(30 * 60))
            .send()
            .await
            .map_err(|e| offline(&e))?;
        let status = res.status();
        if status == reqwest::StatusCode::NOT_FOUND
            || status == reqwest::StatusCode::METHOD_NOT_ALLOWED
        {
            return Ok(None);
        }
        if status.is_success() {
            return Ok(Some(res));
        }
        answer::<serde_json::Value>(res).await.map(|_| None)
    }

    /// Uploads a blob (`PUT /v1/blobs/{sha256}`); the server checks the hash.
    pub async fn put_blob(&self, sha256: &str, bytes: Vec<u8>) -> Result<()> {
        let res = self
            .http
            .put(format!("{}/v1/blobs/{sha256}", self.base))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .map_err(|e| offline(&e))?;
        if res.status().is_success() {
            return Ok(());
        }
        // The error's words, as every other answer gives them.
        answer::<serde_json::Value>(res).await.map(|_| ())
    }

    /// How far an upload in pieces of `sha256` has come (`GET /v1/blobs/{sha256}/upload`).
    pub async fn upload_state(&self, sha256: &str) -> Result<UploadState> {
        let res = self
            .http
            .get(format!("{}/v1/blobs/{sha256}/upload", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| offline(&e))?;
        answer(res).await
    }

    /// Sends one piece of an upload (`PUT /v1/blobs/{sha256}/upload`).
    pub async fn put_piece(
        &self,
        sha256: &str,
        offset: u64,
        total: u64,
        piece: Vec<u8>,
    ) -> Result<UploadState> {
        let res = self
            .http
            .put(format!(
                "{}/v1/blobs/{sha256}/upload?offset={offset}&total={total}",
                self.base
            ))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(piece)
            .send()
            .await
            .map_err(|e| offline(&e))?;
        answer(res).await
    }

    /// Uploads a blob. One larger than `piece` bytes goes in pieces that the server keeps
    /// as they come, so that over a link that drops every few megabytes only the piece in
    /// flight is sent again: it resumes where the server stands, within this call (a few
    /// times) and in the next sync cycle. Returns the bytes sent.
    pub async fn upload_blob(&self, sha256: &str, bytes: &[u8], piece: usize) -> Result<u64> {
        let total = bytes.len() as u64;
        if bytes.len() <= piece {
            self.put_blob(sha256, bytes.to_vec()).await?;
            return Ok(total);
        }
        let piece = piece.clamp(1, MAX_BLOB_PIECE_BYTES);
        // A dropped connection (seen here, or by the server as a body cut short), the
        // server standing elsewhere (an earlier try got through after all), or the whole
        // refused (the pieces are dropped, it starts over): ask where the upload stands,
        // and go on from there. Up to this many failures in a row; then the next cycle.
        const TRIES: u32 = 5;
        let retry = |e: &SyncError, failures: u32| {
            !matches!(e, SyncError::Unauthorized) && failures < TRIES
        };
        let mut sent = 0u64;
        let mut state: Option<UploadState> = None;
        let mut failures = 0;
        loop {
            let now = match state {
                Some(s) => s,
                None => match self.upload_state(sha256).await {
                    Ok(s) => s,
                    Err(e) if retry(&e, failures) => {
                        failures += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            if now.complete {
                return Ok(sent);
            }
            let start = usize::try_from(now.received)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = start.saturating_add(piece).min(bytes.len());
            match self
                .put_piece(sha256, start as u64, total, bytes[start..end].to_vec())
                .await
            {
                Ok(next) => {
                    sent += (end - start) as u64;
                    failures = 0;
                    state = Some(next);
                }
                Err(e) if retry(&e, failures) => {
                    failures += 1;
                    state = None;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Fetches a blob a record in scope refers to; `None` if the server has not got it.
    /// The bytes are checked against their hash before they are returned.
    pub async fn get_blob(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let Some(bytes) = self.get_bytes(&format!("/v1/blobs/{sha256}"), &[]).await? else {
            return Ok(None);
        };
        if onsite_domain::signature::sha256_hex(&bytes) != sha256 {
            return Err(SyncError::Protocol(format!(
                "the server sent bytes that do not match {sha256}"
            )));
        }
        Ok(Some(bytes))
    }

    /// `GET path` with the session's token; the answer's bytes, `None` for a 404.
    async fn get_bytes(&self, path: &str, query: &[(&str, &str)]) -> Result<Option<Vec<u8>>> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| offline(&e))?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !res.status().is_success() {
            return answer::<serde_json::Value>(res).await.map(|_| None);
        }
        Ok(Some(res.bytes().await.map_err(|e| offline(&e))?.to_vec()))
    }

    /// The earlier reports of equipment in scope: its finished work orders, newest first
    /// (`GET /v1/equipment/{id}/reports`); `None` when the server does not have it for you.
    pub async fn equipment_reports(
        &self,
        equipment: uuid::Uuid,
    ) -> Result<Option<Vec<onsite_domain::WorkOrder>>> {
        #[derive(Deserialize)]
        struct Reports {
            reports: Vec<onsite_domain::WorkOrder>,
        }
        let Some(bytes) = self
            .get_bytes(&format!("/v1/equipment/{equipment}/reports"), &[])
            .await?
        else {
            return Ok(None);
        };
        let reports: Reports = serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::Protocol(format!("the earlier reports: {e}")))?;
        Ok(Some(reports.reports))
    }

    /// A printed document of a work order in scope, as the server prints it
    /// (`GET /v1/work-orders/{id}/receipt.pdf`); `None` when it has none for you.
    pub async fn receipt_pdf(
        &self,
        order: uuid::Uuid,
        doc: &str,
        lang: &str,
    ) -> Result<Option<Vec<u8>>> {
        self.get_bytes(
            &format!("/v1/work-orders/{order}/receipt.pdf"),
            &[("doc", doc), ("lang", lang)],
        )
        .await
    }

    /// Whether the server answers `/healthz` now.
    pub async fn healthy(&self) -> bool {
        self.http
            .get(format!("{}/healthz", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

/// The store, shared by the app and the engine; used only from blocking threads.
pub type SharedStore = Arc<Mutex<Store>>;

async fn with_store<T: Send + 'static>(
    store: &SharedStore,
    f: impl FnOnce(&mut Store) -> std::result::Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || {
        let mut guard = store
            .lock()
            .map_err(|_| SyncError::Protocol("the local store lock was poisoned".into()))?;
        f(&mut guard).map_err(SyncError::from)
    })
    .await
    .map_err(|e| SyncError::Protocol(format!("a store task failed: {e}")))?
}

/// Sends the outbox in batches; each answer is recorded in one local transaction with the
/// outbox entries it settles.
async fn push_outbox(
    store: &SharedStore,
    client: &Client,
    config: &Config,
    progress: &(dyn Fn(SyncState) + Send + Sync),
    report: &mut CycleReport,
) -> Result<()> {
    let total = u64::try_from(with_store(store, |s| s.pending_count()).await?).unwrap_or(0);
    progress(SyncState::Syncing {
        phase: Phase::Push,
        done: 0,
        total,
    });
    let batch = config.push_batch;
    loop {
        let ops = with_store(store, move |s| s.pending_batch(batch)).await?;
        if ops.is_empty() {
            break;
        }
        let sent = u64::try_from(ops.len()).unwrap_or(0);
        let answer = client.push(ops).await?;
        let local_now = Utc::now();
        // Recorded in one local transaction with the outbox entries it settles.
        with_store(store, move |s| {
            s.record_push_results(&answer.results, answer.server_time, local_now)?;
            match &answer.epoch {
                Some(epoch) => s.note_acked_epoch(epoch),
                None => Ok(()),
            }
        })
        .await?;
        report.pushed += sent;
        progress(SyncState::Syncing {
            phase: Phase::Push,
            done: report.pushed.min(total),
            total,
        });
    }
    Ok(())
}

/// Where a sync cycle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Push,
    Pull,
}

/// What the UI shows in its sync bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SyncState {
    /// Not synced yet in this session.
    Starting,
    Syncing {
        phase: Phase,
        done: u64,
        total: u64,
    },
    Idle {
        last_synced_at: DateTime<Utc>,
        pending: i64,
    },
    Offline {
        since: DateTime<Utc>,
        retry_in_ms: u64,
        pending: i64,
        last_error: String,
    },
    /// Needs the engineer: sign in again.
    SignInRequired {
        pending: i64,
    },
    /// The server refused something; retried at the next trigger.
    Failed {
        message: String,
        pending: i64,
    },
}

impl SyncState {
    /// How many operations wait to be sent, where the state says.
    pub fn pending(&self) -> Option<i64> {
        match self {
            SyncState::Starting | SyncState::Syncing { .. } => None,
            SyncState::Idle { pending, .. }
            | SyncState::Offline { pending, .. }
            | SyncState::SignInRequired { pending }
            | SyncState::Failed { pending, .. } => Some(*pending),
        }
    }

    /// Sets the count of what waits to be sent; whether the state changed.
    fn set_pending(&mut self, n: i64) -> bool {
        match self {
            SyncState::Starting | SyncState::Syncing { .. } => false,
            SyncState::Idle { pending, .. }
            | SyncState::Offline { pending, .. }
            | SyncState::SignInRequired { pending }
            | SyncState::Failed { pending, .. } => {
                let changed = *pending != n;
                *pending = n;
                changed
            }
        }
    }
}

/// What one cycle did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleReport {
    pub pushed: u64,
    pub pulled: u64,
    /// Blobs uploaded.
    pub blobs: u64,
    /// Bytes of blobs sent (pieces sent again after a dropped connection included).
    pub blob_bytes: u64,
}

/// Tunables; the defaults are DESIGN.md's.
#[derive(Debug, Clone)]
pub struct Config {
    pub push_batch: usize,
    pub pull_limit: usize,
    /// Photos larger than this go up in pieces of this size, resumable.
    pub blob_piece: usize,
    pub debounce: Duration,
    pub interval: Duration,
    pub backoff_start: Duration,
    pub backoff_max: Duration,
    /// How often the sync bar hears the count of records written while a first sync's
    /// snapshot arrives.
    pub progress_every: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            push_batch: 500,
            pull_limit: 5000,
            blob_piece: 1024 * 1024,
            debounce: Duration::from_secs(1),
            interval: Duration::from_secs(30),
            backoff_start: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            progress_every: Duration::from_millis(250),
        }
    }
}

/// A photo or signature image of a record in scope: from the laptop when it is there,
/// else fetched from the server (hash checked) and kept on the laptop for next time.
/// `None` when neither has it (the photo is still on another engineer's laptop, say).
pub async fn fetch_blob(
    store: &SharedStore,
    client: &Client,
    sha256: &str,
) -> Result<Option<Vec<u8>>> {
    let key = sha256.to_owned();
    if let Some(bytes) = with_store(store, move |s| s.blob(&key)).await? {
        return Ok(Some(bytes));
    }
    let Some(bytes) = client.get_blob(sha256).await? else {
        return Ok(None);
    };
    let kept = bytes.clone();
    let sha = with_store(store, move |s| s.put_blob(&kept)).await?;
    if sha != sha256 {
        return Err(SyncError::Protocol(format!(
            "the server sent bytes that hash to {sha} for {sha256}"
        )));
    }
    Ok(Some(bytes))
}

/// Set when a snapshot was cut off: the first sync then goes page by page, each page kept,
/// which a flaky link gets through in the end.
const FIRST_SYNC_BY_PAGES: &str = "first_sync_by_pages";

/// Writes the server's snapshot into a new database and puts it in place of the empty
/// store. `None` when the server has no snapshots or the store got work meanwhile: the
/// caller pulls page by page.
async fn first_sync(
    store: &SharedStore,
    client: &Client,
    config: &Config,
    progress: &(dyn Fn(SyncState) + Send + Sync),
) -> Result<Option<u64>> {
    let Some(res) = client.snapshot().await? else {
        return Ok(None);
    };
    // The records written so far, counted up in the sync bar while the snapshot arrives
    // (over a slow link a big one takes minutes). The writer sends its count after each
    // batch; the bar hears it at most every `progress_every`. Counts are queued, not
    // sampled: a batch written while this task waited for the processor is still told.
    let (count_tx, mut counts) = mpsc::unbounded_channel::<u64>();
    let work = receive_snapshot(store, res, count_tx);
    tokio::pin!(work);
    let mut told: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            biased;
            Some(n) = counts.recv() => {
                if told.is_none_or(|t| t.elapsed() >= config.progress_every) {
                    told = Some(tokio::time::Instant::now());
                    progress(SyncState::Syncing { phase: Phase::Pull, done: n, total: 0 });
                }
            }
            done = &mut work => return done,
        }
    }
}

/// [`first_sync`]'s work: the snapshot read, written and put in place; `written` hears
/// the count of records inserted after each batch.
async fn receive_snapshot(
    store: &SharedStore,
    mut res: reqwest::Response,
    written: mpsc::UnboundedSender<u64>,
) -> Result<Option<u64>> {
    let mut boot = with_store(store, |s| s.begin_bootstrap()).await?;
    // Three steps at once: the network brings bytes, a reader thread cuts and checks
    // lines, a writer thread inserts them (SQLite's inserts are the slowest of the three).
    let mut reader = boot.take_reader();
    let (bytes_tx, mut bytes_rx) = mpsc::channel::<bytes::Bytes>(16);
    let (lines_tx, mut lines_rx) = mpsc::channel::<onsite_store::SnapshotLines>(8);
    let reading = tokio::task::spawn_blocking(move || {
        while let Some(piece) = bytes_rx.blocking_recv() {
            let lines = reader.read(&piece)?;
            if !lines.is_empty() && lines_tx.blocking_send(lines).is_err() {
                break; // the writer stopped: its error says why
            }
        }
        Ok::<_, StoreError>(reader)
    });
    let writer = tokio::task::spawn_blocking(move || {
        while let Some(lines) = lines_rx.blocking_recv() {
            boot.write(&lines)?;
            // Nobody listening any more (the sync was dropped) is no reason to stop.
            let _ = written.send(boot.records());
        }
        Ok::<_, StoreError>(boot)
    });
    let mut received = Ok(());
    // The network hands over small pieces; the reader gets them in batches of about
    // half a megabyte, so that it is woken a few hundred times, not thousands.
    const BATCH: usize = 512 * 1024;
    let mut batch = bytes::BytesMut::with_capacity(BATCH + 64 * 1024);
    loop {
        match res.chunk().await {
            Ok(Some(piece)) => {
                batch.extend_from_slice(&piece);
                if batch.len() >= BATCH && bytes_tx.send(batch.split().freeze()).await.is_err() {
                    break; // the reader stopped: its error (or the writer's) says why
                }
            }
            Ok(None) => {
                if !batch.is_empty() {
                    let _ = bytes_tx.send(batch.split().freeze()).await;
                }
                break;
            }
            Err(e) => {
                received = Err(offline(&e));
                break;
            }
        }
    }
    drop(bytes_tx);
    let task_failed =
        |e: tokio::task::JoinError| SyncError::Protocol(format!("a store task failed: {e}"));
    let read = reading.await.map_err(task_failed)?;
    let mut boot = writer.await.map_err(task_failed)??;
    boot.put_reader(read?);
    if let Err(e) = received {
        go_by_pages(store).await?;
        return Err(e);
    }
    let local_now = Utc::now();
    match with_store(store, move |s| s.finish_bootstrap(boot, local_now)).await {
        Ok(put) => Ok(put.map(|stats| stats.records)),
        Err(SyncError::Store(e @ StoreError::BadData { .. })) => {
            // Cut off (or damaged) on the way, like a dropped connection: next time page
            // by page.
            go_by_pages(store).await?;
            Err(SyncError::Offline(e.to_string()))
        }
        Err(e) => {
            go_by_pages(store).await?;
            Err(e)
        }
    }
}

/// After a snapshot that did not arrive whole: the next first sync goes page by page.
async fn go_by_pages(store: &SharedStore) -> Result<()> {
    with_store(store, |s| s.set_setting(FIRST_SYNC_BY_PAGES, "1")).await
}

/// Photos and signature images first: a record never reaches the server before the bytes
/// it refers to.
async fn upload_blobs(
    store: &SharedStore,
    client: &Client,
    config: &Config,
    report: &mut CycleReport,
) -> Result<()> {
    let blobs = with_store(store, |s| s.blobs_to_upload()).await?;
    for sha in blobs {
        let key = sha.clone();
        let Some(bytes) = with_store(store, move |s| s.blob(&key)).await? else {
            tracing::warn!(sha256 = %sha, "a photo referred to by unsent work is not on this laptop");
            continue;
        };
        report.blob_bytes += client.upload_blob(&sha, &bytes, config.blob_piece).await?;
        let key = sha.clone();
        with_store(store, move |s| s.blob_uploaded(&key)).await?;
        report.blobs += 1;
    }
    Ok(())
}

/// The server was restored from an older backup: what it had acknowledged goes back into
/// the outbox and up again (it lacks some of it), then the pull starts from the start.
async fn resync(
    store: &SharedStore,
    client: &Client,
    config: &Config,
    progress: &(dyn Fn(SyncState) + Send + Sync),
    report: &mut CycleReport,
    why: &str,
) -> Result<RawPullResponse> {
    let again = with_store(store, |s| s.begin_resync()).await?;
    tracing::warn!(%why, again, "the server's history changed: syncing again from the start");
    upload_blobs(store, client, config, report).await?;
    push_outbox(store, client, config, progress, report).await?;
    client.pull_raw(None, config.pull_limit).await
}

/// One sync cycle: push everything pending in batches, then pull until the server has no
/// more, then checkpoint the local database. `progress` hears every step.
pub async fn sync_once(
    store: &SharedStore,
    client: &Client,
    config: &Config,
    progress: &(dyn Fn(SyncState) + Send + Sync),
) -> Result<CycleReport> {
    let mut report = CycleReport::default();
    // Sessions signed out here while offline end on the server now.
    revoke_signed_out(store).await?;
    upload_blobs(store, client, config, &mut report).await?;
    push_outbox(store, client, config, progress, &mut report).await?;
    let mut cursor = with_store(store, |s| s.cursor()).await?;
    progress(SyncState::Syncing {
        phase: Phase::Pull,
        done: 0,
        total: 0,
    });
    // A first sync on an empty laptop: the whole scope at once into a new database file,
    // then the pages written since (usually none).
    if cursor.is_none()
        && with_store(store, |s| {
            Ok(s.can_bootstrap()? && s.setting(FIRST_SYNC_BY_PAGES)?.is_none())
        })
        .await?
        && let Some(records) = first_sync(store, client, config, progress).await?
    {
        report.pulled += records;
        progress(SyncState::Syncing {
            phase: Phase::Pull,
            done: report.pulled,
            total: 0,
        });
        cursor = with_store(store, |s| s.cursor()).await?;
    }
    let first = client.pull_raw(cursor.as_deref(), config.pull_limit).await;
    // The history the server answers from is not the one that acknowledged the journal
    // (a pull from the start names no epoch the server could refuse).
    let restored_since_acked = match &first {
        Ok(RawPullResponse {
            epoch: Some(epoch), ..
        }) => {
            let epoch = epoch.clone();
            with_store(store, move |s| s.restored_since_acked(&epoch)).await?
        }
        _ => false,
    };
    let mut page = match first {
        // The server's database was restored from an older backup: send again what it had
        // acknowledged (it lacks some of it), then take everything from the start.
        Err(SyncError::ResyncRequired(why)) => {
            resync(store, client, config, progress, &mut report, &why).await?
        }
        Ok(_) if restored_since_acked => {
            resync(
                store,
                client,
                config,
                progress,
                &mut report,
                "the journal was acknowledged by another history",
            )
            .await?
        }
        page => page?,
    };
    loop {
        let count = u64::try_from(page.changes.len()).unwrap_or(0);
        let local_now = Utc::now();
        let page_cursor = page.kept_cursor();
        let RawPullResponse {
            changes,
            has_more,
            server_time,
            ..
        } = page;
        let next = page_cursor.clone();
        // The page, the rebase of pending work on top of it and the cursor: one transaction.
        let apply = with_store(store, move |s| {
            s.apply_pull_raw(&changes, &page_cursor, server_time, local_now)
        });
        if !has_more {
            apply.await?;
            report.pulled += count;
            break;
        }
        // The next page travels while this one is written: the server and the laptop work
        // at the same time. A page is applied only after the one before it committed.
        let (applied, fetched) =
            tokio::join!(apply, client.pull_raw(Some(&next), config.pull_limit));
        applied?;
        report.pulled += count;
        progress(SyncState::Syncing {
            phase: Phase::Pull,
            done: report.pulled,
            total: 0,
        });
        page = fetched?;
    }
    // After a sync from the start, what it did not bring is gone from the server.
    with_store(store, |s| s.finish_resync()).await?;
    with_store(store, |s| s.checkpoint()).await?;
    Ok(report)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    LocalWrite,
    Now,
    Stop,
}

/// Tells the engine of a local write: [`SyncHandle::local_write`] for a task of its own.
#[derive(Debug, Clone)]
pub struct LocalWrites {
    triggers: mpsc::UnboundedSender<Trigger>,
    publish: watch::Sender<SyncState>,
    store: SharedStore,
}

impl LocalWrites {
    /// See [`SyncHandle::local_write`].
    pub async fn local_write(&self) {
        let waiting = pending(&self.store).await;
        if waiting >= 0 {
            self.publish.send_if_modified(|s| s.set_pending(waiting));
        }
        let _ = self.triggers.send(Trigger::LocalWrite);
    }
}

/// The app's handle on the running engine.
#[derive(Debug)]
pub struct SyncHandle {
    triggers: mpsc::UnboundedSender<Trigger>,
    state: watch::Receiver<SyncState>,
    /// The engine's state, updated here too: a local write changes the count of what
    /// waits to be sent at once, not at the engine's next step.
    publish: watch::Sender<SyncState>,
    store: SharedStore,
    task: tokio::task::JoinHandle<()>,
}

impl SyncHandle {
    /// Tell the engine something was written locally (it syncs about a second later,
    /// once writes pause). The state shows the new count of what waits to be sent before
    /// this returns: the sync bar never says "all sent" while the order says otherwise.
    pub async fn local_write(&self) {
        self.notifier().local_write().await;
    }

    /// A handle that tells the engine of local writes from elsewhere (a task that
    /// finishes a write after the screen has answered); it outlives nothing: once the
    /// engine stops, telling it does nothing.
    pub fn notifier(&self) -> LocalWrites {
        LocalWrites {
            triggers: self.triggers.clone(),
            publish: self.publish.clone(),
            store: Arc::clone(&self.store),
        }
    }

    /// "Sync now": also retries at once when offline.
    pub fn sync_now(&self) {
        let _ = self.triggers.send(Trigger::Now);
    }

    /// The state stream for the UI.
    pub fn state(&self) -> watch::Receiver<SyncState> {
        self.state.clone()
    }

    /// Stops the engine after the step it is in.
    pub async fn stop(self) {
        let _ = self.triggers.send(Trigger::Stop);
        let _ = self.task.await;
    }
}

/// The background engine.
#[derive(Debug)]
pub struct SyncEngine;

impl SyncEngine {
    /// Starts syncing `store` with the session's server: at once, then on every trigger.
    pub fn start(store: SharedStore, session: &Session, config: Config) -> SyncHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(SyncState::Starting);
        let client = Client::new(session);
        let publish = state_tx.clone();
        let task = tokio::spawn(run(Arc::clone(&store), client, config, rx, state_tx));
        SyncHandle {
            publish,
            store,
            triggers: tx,
            state: state_rx,
            task,
        }
    }
}

async fn pending(store: &SharedStore) -> i64 {
    with_store(store, |s| s.pending_count()).await.unwrap_or(-1)
}

/// The wait before trying again after a transient failure: what the server asked for
/// (`Retry-After`, capped at `backoff_max`) with up to a quarter more so that laptops
/// told the same do not all come back at once, else [`backoff`].
fn retry_wait(config: &Config, attempt: u32, asked: Option<Duration>) -> Duration {
    match asked {
        Some(asked) => {
            let asked = asked.min(config.backoff_max);
            let spread = u64::try_from(asked.as_millis() / 4).unwrap_or(0);
            asked + Duration::from_millis(rand::random::<u64>() % (spread + 1))
        }
        None => backoff(config, attempt),
    }
}

/// Exponential backoff with full jitter: a random wait up to `start·2^attempt`, capped.
fn backoff(config: &Config, attempt: u32) -> Duration {
    let ceiling = config
        .backoff_start
        .saturating_mul(2u32.saturating_pow(attempt.min(20)))
        .min(config.backoff_max);
    let ms = u64::try_from(ceiling.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(ms / 2 + rand::random::<u64>() % (ms / 2 + 1))
}

async fn run(
    store: SharedStore,
    client: Client,
    config: Config,
    mut triggers: mpsc::UnboundedReceiver<Trigger>,
    state: watch::Sender<SyncState>,
) {
    let publish = {
        let state = state.clone();
        move |s: SyncState| {
            let _ = state.send(s);
        }
    };
    let mut attempt: u32 = 0;
    let mut offline_since: Option<DateTime<Utc>> = None;
    let mut wait = Duration::ZERO;
    loop {
        // Wait for a reason to sync: a trigger, the timer, or the end of a backoff.
        if !wait.is_zero() {
            tokio::select! {
                t = triggers.recv() => match t {
                    None | Some(Trigger::Stop) => return,
                    Some(Trigger::LocalWrite) => {
                        // Let a burst of writes finish first.
                        tokio::time::sleep(config.debounce).await;
                        while let Ok(t) = triggers.try_recv() {
                            if t == Trigger::Stop {
                                return;
                            }
                        }
                    }
                    Some(Trigger::Now) => {}
                },
                () = tokio::time::sleep(wait) => {}
            }
        }
        if offline_since.is_some() && !client.healthy().await {
            attempt = attempt.saturating_add(1);
            wait = backoff(&config, attempt);
            publish(SyncState::Offline {
                since: offline_since.unwrap_or_else(Utc::now),
                retry_in_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                pending: pending(&store).await,
                last_error: "the server cannot be reached".into(),
            });
            continue;
        }
        match sync_once(&store, &client, &config, &publish).await {
            Ok(_) => {
                attempt = 0;
                offline_since = None;
                wait = config.interval;
                let now = Utc::now();
                let kept = with_store(&store, move |s| {
                    s.set_setting(LAST_SYNCED_KEY, &now.to_rfc3339())
                })
                .await;
                if let Err(e) = kept {
                    tracing::warn!(error = %e, "could not keep the time of the last sync");
                }
                publish(SyncState::Idle {
                    last_synced_at: now,
                    pending: pending(&store).await,
                });
            }
            Err(e) if e.is_transient() => {
                let since = *offline_since.get_or_insert_with(Utc::now);
                attempt = attempt.saturating_add(1);
                wait = retry_wait(&config, attempt, e.retry_after());
                tracing::info!(error = %e, "sync failed, retrying");
                publish(SyncState::Offline {
                    since,
                    retry_in_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    pending: pending(&store).await,
                    last_error: e.to_string(),
                });
            }
            Err(SyncError::Unauthorized) => {
                wait = Duration::from_secs(3600);
                publish(SyncState::SignInRequired {
                    pending: pending(&store).await,
                });
            }
            Err(e) => {
                wait = config.interval;
                publish(SyncState::Failed {
                    message: e.to_string(),
                    pending: pending(&store).await,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_server_address_gets_a_scheme_https_unless_local_and_loses_its_trailing_slash() {
        for (typed, base) in [
            ("127.0.0.1:8787", "http://127.0.0.1:8787"),
            ("localhost:8787", "http://localhost:8787"),
            ("[::1]:8787", "http://[::1]:8787"),
            ("192.168.1.10:8787", "https://192.168.1.10:8787"),
            ("sync.example.cn", "https://sync.example.cn"),
            (" http://10.0.0.2:8787/ ", "http://10.0.0.2:8787"),
            ("https://sync.example.cn/", "https://sync.example.cn"),
        ] {
            assert_eq!(server_base(typed).expect(typed), base);
        }
        for bad in ["", "   ", "ftp://host", "http://", "http://exa mple"] {
            assert!(
                matches!(server_base(bad), Err(SyncError::BadAddress(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn a_busy_server_is_left_alone_as_long_as_it_asked() {
        let config = Config::default();
        for _ in 0..200 {
            let w = retry_wait(&config, 1, Some(Duration::from_secs(30)));
            assert!(
                w >= Duration::from_secs(30) && w <= Duration::from_millis(37_500),
                "{w:?}"
            );
            // An absurd request is capped at the longest backoff.
            let w = retry_wait(&config, 1, Some(Duration::from_secs(86_400)));
            assert!(
                w >= config.backoff_max && w <= config.backoff_max * 5 / 4,
                "{w:?}"
            );
        }
        // Without one, the usual backoff (attempt 1: up to 2 s).
        assert!(retry_wait(&config, 1, None) <= Duration::from_secs(2));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let config = Config::default();
        for attempt in 0..30 {
            let d = backoff(&config, attempt);
            let ceiling = Duration::from_secs(1)
                .saturating_mul(2u32.saturating_pow(attempt.min(20)))
                .min(Duration::from_secs(300));
            assert!(
                d <= ceiling && d >= ceiling / 2,
                "attempt {attempt}: {d:?} not in [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
    }
}
