//! The HTTP API of PROTOCOL.md: one router, assembled in [`router`] so that tests can call
//! it without a socket; every handler returns `Result<_, ApiError>`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use onsite_domain::numbering::Department;
use onsite_domain::protocol::{
    Entity, MAX_BLOB_BYTES, MAX_BLOB_PIECE_BYTES, MAX_OPS_PER_PUSH, MAX_PUSH_BYTES, PushRequest,
    PushResponse,
};
use onsite_domain::records::User;
use onsite_domain::{Role, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::auth::{
    Auth, Dispatcher, bearer, hash_password, new_token, token_hash, verify_password,
};
use crate::error::ApiError;
use crate::storage::{
    AccountChange, NewUser, PieceOutcome, Session, Storage, StorageError, UploadState,
};
use crate::throttle::LoginThrottle;

/// Password hashes computed at once (Argon2id takes ~19 MiB and tens of ms of a core
/// each): sign-ins past these wait, and after [`HASHING_WAIT`] are told to come back.
pub const CONCURRENT_HASHES: usize = 2;
pub const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// The largest sign-in body: a name, a password and a device.
pub const MAX_LOGIN_BYTES: usize = 16 * 1024;
/// How long a session lasts.
pub const SESSION_DAYS: i64 = 30;

/// Today in China (UTC+8): the month a record number is dated in.
fn local_today() -> Result<chrono::NaiveDate, ApiError> {
    Ok(onsite_domain::numbering::numbering_date(Utc::now()))
}

#[derive(Clone)]
pub struct AppState {
    storage: Arc<dyn Storage>,
    /// Storage calls running at once. Each runs on a blocking thread; past a few per core
    /// more of them only add threads fighting for the same cores (and, on SQLite, reader
    /// connections opened and closed for one query each). The rest wait their turn here,
    /// in arrival order, without a thread.
    running: Arc<tokio::sync::Semaphore>,
    /// Sessions recently found by their token hash, so that every request of a syncing
    /// laptop (a push and a pull a cycle) does not read the database to know who it is.
    sessions: Arc<parking_lot::Mutex<HashMap<String, Known>>>,
    /// Counts sign-outs: a lookup that overlapped one does not fill the cache, so that it
    /// cannot put back a session that was just ended.
    sign_outs: Arc<AtomicU64>,
    logins: Arc<LoginThrottle>,
    hashing: Arc<tokio::sync::Semaphore>,
    snapshots: Arc<tokio::sync::Semaphore>,
    streaming: Arc<parking_lot::Mutex<std::collections::HashSet<Uuid>>>,
}

/// A session as found, and when: it is looked up again after `SESSION_RECHECK`.
#[derive(Clone)]
struct Known {
    session: Session,
    found: std::time::Instant,
}

/// How long a session found in the database is taken on trust: twice the engine's idle
/// sync interval (30 s), so that a connected laptop's session stays known. Signing out
/// removes it at once (this process is the only one that ends sessions); a token that
/// expires (after days), or is removed by any other means, is refused within this long.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// Sessions kept at most; the cache is emptied when it is full.
const SESSIONS_KEPT: usize = 10_000;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppState")
    }
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>) -> AppState {
        AppState {
            storage,
            running: Arc::new(tokio::sync::Semaphore::new(
                crate::storage::CONCURRENT_CALLS,
            )),
            sessions: Arc::default(),
            sign_outs: Arc::default(),
            logins: Arc::default(),
            hashing: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_HASHES)),
            snapshots: Arc::new(tokio::sync::Semaphore::new(SNAPSHOTS_AT_ONCE)),
            streaming: Arc::default(),
        }
    }

    /// Runs an Argon2 computation on a blocking thread, at most [`CONCURRENT_HASHES`] at
    /// once; 503 when the wait for a turn passes [`HASHING_WAIT`].
    pub async fn hashing<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let busy = || ApiError::Unavailable {
            message: "too many sign-ins at once".into(),
            retry_after_secs: 2,
        };
        let turn = tokio::time::timeout(HASHING_WAIT, Arc::clone(&self.hashing).acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        tokio::task::spawn_blocking(move || {
            let out = f();
            drop(turn);
            out
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// The session of a token (by its hash), from the cache if it was found recently.
    pub async fn session(&self, hash: String) -> Result<Option<Session>, ApiError> {
        if let Some(known) = self.sessions.lock().get(&hash)
            && known.found.elapsed() < SESSION_RECHECK
        {
            return Ok(Some(known.session.clone()));
        }
        let now = chrono::Utc::now();
        let key = hash.clone();
        let sign_outs = self.sign_outs.load(Ordering::SeqCst);
        let found = self.blocking(move |s| s.session(&key, now)).await?;
        let mut sessions = self.sessions.lock();
        match &found {
            Some(session) if self.sign_outs.load(Ordering::SeqCst) == sign_outs => {
                if sessions.len() >= SESSIONS_KEPT {
                    sessions.clear();
                }
                sessions.insert(
                    hash,
                    Known {
                        session: session.clone(),
                        found: std::time::Instant::now(),
                    },
                );
            }
            _ => {
                sessions.remove(&hash);
            }
        }
        Ok(found)
    }

    /// Ends a session: in the database, and in the cache at once.
    pub async fn end_session(&self, hash: String) -> Result<(), ApiError> {
        self.sign_outs.fetch_add(1, Ordering::SeqCst);
        self.sessions.lock().remove(&hash);
        let key = hash.clone();
        let ended = self.blocking(move |s| s.end_session(&key)).await;
        // Again once the token is gone: a lookup that read it before the delete and
        // began after the first count must not cache it either.
        self.sign_outs.fetch_add(1, Ordering::SeqCst);
        self.sessions.lock().remove(&hash);
        ended
    }

    /// Forgets the cached sessions of a user whose sessions were just ended.
    pub fn forget_user(&self, user: Uuid) {
        self.sign_outs.fetch_add(1, Ordering::SeqCst);
        self.sessions
            .lock()
            .retain(|_, k| k.session.user.id != user);
    }

    /// Runs a storage call off the async runtime.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Storage) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let storage = Arc::clone(&self.storage);
        let turn = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|e| ApiError::Internal(format!("the storage queue is closed: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let result = f(storage.as_ref());
            drop(turn);
            result
        })
        .await
        .map_err(|e| ApiError::Internal(format!("a storage task failed: {e}")))?
        .map_err(ApiError::from)
    }
}

fn body<T>(r: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match r {
        Ok(Json(v)) => Ok(v),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::TooLarge(format!(
            "the body is too large: {}",
            e.body_text()
        ))),
        Err(JsonRejection::JsonDataError(e)) => Err(ApiError::Unprocessable(e.body_text())),
        Err(e) => Err(ApiError::BadRequest(format!(
            "send a JSON body: {}",
            e.body_text()
        ))),
    }
}

/// The bodies and answers of the calls, as `/openapi.json` names them.
pub(crate) mod doc {
    pub(crate) use super::{
        AccountAnswer, AssignRequest, CreateUser, Created, Health, LeaseRequest, LoginRequest,
        LoginResponse, NewPassword, Numbers, Operations, Published, Reports, Templates, WorkOrders,
    };
    use serde_json::{Map, Value};

    /// An OpenAPI 3.1 document.
    #[derive(utoipa::ToSchema)]
    #[allow(dead_code)]
    pub(crate) struct Document(Map<String, Value>);

    /// A customer, equipment or work order row as DOMAIN.md describes it (`id` made when
    /// absent).
    #[derive(utoipa::ToSchema)]
    #[allow(dead_code)]
    pub(crate) struct Record(Map<String, Value>);
}

/// `GET /healthz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    status: &'static str,
}

/// Numbers leased.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Numbers {
    numbers: Vec<String>,
}

/// The id of a record made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Created {
    id: Uuid,
}

/// Work orders, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct WorkOrders {
    #[schema(value_type = Vec<Object>)]
    work_orders: Vec<Map<String, Value>>,
}

/// A checklist template published: its id and the version orders now get.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Published {
    id: Uuid,
    version: u32,
}

/// The checklist templates, each at its newest version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Templates {
    #[schema(value_type = Vec<Object>)]
    templates: Vec<Map<String, Value>>,
}

/// Operations the server kept without applying them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Operations {
    operations: Vec<crate::storage::KeptOp>,
}

/// The whole API.
pub fn router(storage: Arc<dyn Storage>) -> Router {
    let state = AppState::new(storage);
    Router::new()
        .route("/healthz", get(|| async { Json(Health { status: "ok" }) }))
        .route(
            "/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .route(
            "/v1/auth/login",
            post(login).layer(DefaultBodyLimit::max(MAX_LOGIN_BYTES)),
        )
        .route("/v1/auth/logout", post(logout))
        .route("/v1/sync/push", post(push))
        .route("/v1/sync/pull", get(pull))
        .route("/v1/sync/snapshot", get(snapshot))
        .route("/v1/numbers/lease", post(lease))
        .route(
            "/v1/blobs/{sha256}",
            get(get_blob)
                .head(head_blob)
                .put(put_blob)
                .layer(DefaultBodyLimit::max(MAX_BLOB_BYTES)),
        )
        .route(
            "/v1/blobs/{sha256}/upload",
            get(blob_upload)
                .put(put_blob_piece)
                .layer(DefaultBodyLimit::max(MAX_BLOB_PIECE_BYTES)),
        )
        .route("/v1/work-orders/{id}/receipt.pdf", get(receipt_pdf))
        .route("/v1/equipment/{id}/reports", get(equipment_reports))
        .route("/v1/admin/users", post(create_user))
        .route(
            "/v1/admin/users/{username}/disable",
            post(|a: Dispatcher, s: State<AppState>, p| account(a, s, p, Account::Disable)),
        )
        .route(
            "/v1/admin/users/{username}/enable",
            post(|a: Dispatcher, s: State<AppState>, p| account(a, s, p, Account::Enable)),
        )
        .route(
            "/v1/admin/users/{username}/sign-out",
            post(|a: Dispatcher, s: State<AppState>, p| account(a, s, p, Account::EndSessions)),
        )
        .route("/v1/admin/users/{username}/password", post(reset_password))
        .route(
            "/v1/admin/customers",
            post(|d: Dispatcher, s: State<AppState>, b| admin_put(d, s, Entity::Customer, b)),
        )
        .route(
            "/v1/admin/equipment",
            post(|d: Dispatcher, s: State<AppState>, b| admin_put(d, s, Entity::Equipment, b)),
        )
        .route(
            "/v1/admin/work-orders",
            post(create_work_order).get(list_work_orders),
        )
        .route("/v1/admin/work-orders/{id}/assign", post(assign))
        .route(
            "/v1/admin/work-orders/{id}/cancel",
            post(|d: Dispatcher, s: State<AppState>, p| {
                admin_transition(d, s, p, Status::Cancelled)
            }),
        )
        .route(
            "/v1/admin/work-orders/{id}/close",
            post(|d: Dispatcher, s: State<AppState>, p| admin_transition(d, s, p, Status::Closed)),
        )
        .route(
            "/v1/admin/checklist-templates",
            post(publish_template).get(list_templates),
        )
        .route(
            "/v1/admin/quarantine",
            get(|d: Dispatcher, s: State<AppState>| kept(d, s, "quarantined")),
        )
        .route(
            "/v1/admin/conflicts",
            get(|d: Dispatcher, s: State<AppState>| kept(d, s, "conflict")),
        )
        .fallback(|| async { ApiError::NotFound("no such call: see /openapi.json".into()) })
        .layer(DefaultBodyLimit::max(MAX_PUSH_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Device {
    #[schema(min_length = 1, max_length = 200)]
    id: String,
    #[schema(max_length = 200)]
    name: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginRequest {
    #[schema(min_length = 1, max_length = 64)]
    username: String,
    #[schema(max_length = 256)]
    password: String,
    device: Device,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LoginResponse {
    token: String,
    expires_at: DateTime<Utc>,
    user: User,
    server_time: DateTime<Utc>,
    /// The identity of the server database's history (it changes when it is restored).
    epoch: String,
}

async fn login(
    State(state): State<AppState>,
    source: SourceAddr,
    req: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, ApiError> {
    let req = body(req)?;
    if req.device.id.trim().is_empty() || req.device.id.len() > 200 || req.device.name.len() > 200 {
        return Err(ApiError::Unprocessable(
            "device.id must be 1–200 characters and device.name at most 200".into(),
        ));
    }
    // No account has such a name or password: nothing to look up, hash or remember.
    if onsite_domain::records::check_username(&req.username).is_err()
        || req.password.len() > onsite_domain::records::MAX_PASSWORD_BYTES
    {
        return Err(ApiError::BadCredentials);
    }
    let attempt = state
        .logins
        .begin(&req.username, source.0)
        .map_err(|wait| ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        })?;
    let now = Utc::now();
    let username = req.username.clone();
    let found = state
        .blocking(move |s| s.user_by_username(&username))
        .await?;
    let password = req.password.clone();
    // Argon2 is deliberately slow: verify off the async runtime, and against a dummy hash
    // when the user does not exist, so that timing does not tell which usernames exist.
    let verified = state
        .hashing(move || match found {
            Some((user, hash)) => verify_password(&password, &hash).then_some(user),
            None => {
                let _ = verify_password(&password, &DUMMY_HASH);
                None
            }
        })
        .await?;
    let Some(user) = verified else {
        return Err(ApiError::BadCredentials);
    };
    state.logins.succeeded(attempt);
    let (token, hash) = new_token();
    let expires_at = now + Duration::days(SESSION_DAYS);
    let uid = user.id;
    let (device_id, device_name) = (req.device.id, req.device.name);
    state
        .blocking(move |s| s.create_session(&hash, uid, &device_id, &device_name, now, expires_at))
        .await?;
    Ok(Json(LoginResponse {
        token,
        expires_at,
        user,
        server_time: Utc::now(),
        epoch: state.storage.epoch(),
    }))
}

/// The address a request came from, when the server was started with it.
#[derive(Debug, Clone, Copy)]
pub struct SourceAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SourceAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(SourceAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// An Argon2id hash verified when a username is unknown, so that it costs the same time.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash_password("no such user, no such password").unwrap_or_default()
});

async fn logout(
    Auth(_): Auth,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hash = token_hash(bearer(&headers).unwrap_or_default());
    state.end_session(hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn push(
    Auth(session): Auth,
    State(state): State<AppState>,
    req: Result<Json<PushRequest>, JsonRejection>,
) -> Result<Json<PushResponse>, ApiError> {
    let req = body(req)?;
    if req.ops.len() > MAX_OPS_PER_PUSH {
        return Err(ApiError::TooLarge(format!(
            "{} operations in one push: send at most {MAX_OPS_PER_PUSH}",
            req.ops.len()
        )));
    }
    if req.device_id != session.device_id {
        return Err(ApiError::BadRequest(format!(
            "device_id {:?} is not the device this token was issued to: sign in on this device",
            req.device_id
        )));
    }
    let now = Utc::now();
    let results = state
        .blocking(move |s| s.push(&session, &req.ops, now))
        .await?;
    Ok(Json(PushResponse {
        results,
        server_time: Utc::now(),
        epoch: Some(state.storage.epoch()),
    }))
}

/// The caller's whole scope as of one moment, for a first sync (`docs/protocol.md`):
/// written by a storage task in pieces while it reads, so that neither end holds the
/// whole of a large scope in memory. A failure half-way cuts the body short; the trailer
/// is then missing and the client starts again.
/// Snapshots streamed at once, all users together: each holds a read transaction and a
/// thread while its client reads.
pub const SNAPSHOTS_AT_ONCE: usize = 4;
/// How long a snapshot waits for a turn before the caller is told to come back.
const SNAPSHOT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a client may leave a piece of its snapshot unread before it is cut off.
pub const SNAPSHOT_SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A user's snapshot in flight; a second one of the same user waits for it to end.
struct Streaming {
    users: Arc<parking_lot::Mutex<std::collections::HashSet<Uuid>>>,
    user: Uuid,
    _turn: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Streaming {
    fn drop(&mut self) {
        self.users.lock().remove(&self.user);
    }
}

async fn snapshot(Auth(session): Auth, State(state): State<AppState>) -> Response {
    match snapshot_turn(&state, session.user.id).await {
        Ok(turn) => stream_snapshot(&state, session.user, turn),
        Err(e) => e.into_response(),
    }
}

/// A turn to stream: one snapshot per user, [`SNAPSHOTS_AT_ONCE`] in all.
async fn snapshot_turn(state: &AppState, user: Uuid) -> Result<Streaming, ApiError> {
    if !state.streaming.lock().insert(user) {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: 10,
        });
    }
    let users = Arc::clone(&state.streaming);
    let turn =
        tokio::time::timeout(SNAPSHOT_WAIT, Arc::clone(&state.snapshots).acquire_owned()).await;
    match turn {
        Ok(Ok(turn)) => Ok(Streaming {
            users,
            user,
            _turn: turn,
        }),
        _ => {
            users.lock().remove(&user);
            Err(ApiError::Unavailable {
                message: "other first syncs are being sent".into(),
                retry_after_secs: 10,
            })
        }
    }
}

fn stream_snapshot(state: &AppState, user: User, turn: Streaming) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(4);
    let storage = Arc::clone(&state.storage);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let sent = storage.snapshot(&user, &mut |piece| {
            let piece = Ok(axum::body::Bytes::copy_from_slice(piece));
            match runtime.block_on(tokio::time::timeout(SNAPSHOT_SEND_TIMEOUT, tx.send(piece))) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(StorageError::Database("the client went away".into())),
                Err(_) => Err(StorageError::Database("the client stopped reading".into())),
            }
        });
        match sent {
            Ok(records) => tracing::debug!(user = %user.username, records, "snapshot sent"),
            Err(e) => {
                tracing::warn!(user = %user.username, error = %e, "snapshot cut short");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/tab-separated-values; charset=utf-8",
        )],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct PullQuery {
    cursor: Option<String>,
    /// The epoch the cursor is of (`epoch` of the login or pull that gave it).
    epoch: Option<String>,
    limit: Option<usize>,
}

async fn pull(
    Auth(session): Auth,
    State(state): State<AppState>,
    q: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(format!("bad query: {}", e.body_text())))?;
    let epoch = state.storage.epoch();
    if q.epoch.as_deref().is_some_and(|e| e != epoch) {
        return Err(ApiError::ResyncRequired(
            "the cursor is of another history of this server's database (restored from a backup)"
                .into(),
        ));
    }
    let cursor = match q.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c.parse::<i64>().ok().filter(|c| *c >= 0).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "cursor {c:?} is not one this server gave: omit it to start over"
            ))
        })?,
    };
    let limit = q.limit.unwrap_or(1000).clamp(1, 5000);
    let user = session.user;
    let page = state
        .blocking(move |s| s.pull(&user, cursor, limit))
        .await?;
    // A `PullResponse`, written around the changes' JSON as the storage gave it.
    let size: usize = page.changes.iter().map(|c| c.len() + 1).sum();
    let mut body = String::with_capacity(size + 128);
    body.push_str("{\"changes\":[");
    for (i, change) in page.changes.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(change);
    }
    body.push_str(&format!(
        "],\"cursor\":\"{}\",\"has_more\":{},\"server_time\":{},\"epoch\":\"{epoch}\"}}",
        page.cursor,
        page.has_more,
        serde_json::to_string(&Utc::now()).map_err(|e| ApiError::Internal(e.to_string()))?
    ));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct LeaseRequest {
    /// Your department's code.
    #[schema(pattern = "^(SC|SJ|HY|YF|YX)$")]
    department: String,
    #[schema(minimum = 1, maximum = 20)]
    count: u32,
}

async fn lease(
    Auth(session): Auth,
    State(state): State<AppState>,
    req: Result<Json<LeaseRequest>, JsonRejection>,
) -> Result<Json<Numbers>, ApiError> {
    let req = body(req)?;
    let department: Department = req
        .department
        .parse()
        .map_err(|e: onsite_domain::DomainError| ApiError::Unprocessable(e.to_string()))?;
    let user = &session.user;
    onsite_domain::numbering::check_lease(
        user.role,
        user.department.as_deref(),
        &department,
        req.count,
    )
    .map_err(|e| match e {
        onsite_domain::DomainError::NotYours { .. } => ApiError::Forbidden(e.to_string()),
        e => ApiError::Unprocessable(e.to_string()),
    })?;
    let local = local_today()?;
    let numbers = state
        .blocking(move |s| s.lease_numbers(&department, local, req.count, s.number_width()))
        .await?;
    Ok(Json(Numbers { numbers }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateUser {
    /// Letters, digits and `._-`, no spaces or invisible characters.
    #[schema(min_length = 1, max_length = 64)]
    username: String,
    /// At least 10 characters that are not spaces, 5 of them different.
    #[schema(min_length = 10, max_length = 256)]
    password: String,
    #[schema(min_length = 1, max_length = 64)]
    name: String,
    role: Role,
    /// Required for an engineer.
    #[schema(pattern = "^(SC|SJ|HY|YF|YX)$")]
    department: Option<String>,
}

/// Checks a new user's fields; the same rules for the API and the command line.
pub fn check_new_user(
    username: &str,
    password: &str,
    name: &str,
    role: Role,
    department: Option<&str>,
) -> Result<(), ApiError> {
    use onsite_domain::records::{check_password, check_person_name, check_username};
    let invalid = |e: onsite_domain::DomainError| ApiError::Unprocessable(e.to_string());
    check_username(username).map_err(invalid)?;
    check_password(password, username).map_err(invalid)?;
    check_person_name(name).map_err(invalid)?;
    if let Some(d) = department {
        d.parse::<Department>()
            .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    }
    if role == Role::Engineer && department.is_none() {
        return Err(ApiError::Unprocessable(
            "department: an engineer needs one (SC, SJ, HY, YF, YX) to number records".into(),
        ));
    }
    Ok(())
}

async fn create_user(
    Dispatcher(session): Dispatcher,
    State(state): State<AppState>,
    req: Result<Json<CreateUser>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    if session.user.role != Role::Admin {
        return Err(ApiError::Forbidden("only an admin creates users".into()));
    }
    let req = body(req)?;
    check_new_user(
        &req.username,
        &req.password,
        &req.name,
        req.role,
        req.department.as_deref(),
    )?;
    let password = req.password.clone();
    let password_hash = state.hashing(move || hash_password(&password)).await??;
    let new = NewUser {
        username: req.username,
        name: req.name,
        role: req.role,
        department: req.department,
        password_hash,
    };
    let user = state
        .blocking(move |s| s.create_user(new, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// What an admin does to an account by a call without a body.
#[derive(Debug, Clone, Copy)]
enum Account {
    Disable,
    Enable,
    EndSessions,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AccountAnswer {
    user: User,
    sessions_ended: usize,
}

fn admin_only(session: &Session) -> Result<(), ApiError> {
    if session.user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only an admin manages accounts".into()))
    }
}

fn username_of(
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    let Path(username) = p.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    onsite_domain::records::check_username(&username)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(username)
}

async fn change_account(
    state: &AppState,
    username: String,
    change: AccountChange,
) -> Result<Json<AccountAnswer>, ApiError> {
    let (user, sessions_ended) = state
        .blocking(move |s| s.manage_account(&username, &change, Utc::now()))
        .await?;
    state.forget_user(user.id);
    Ok(Json(AccountAnswer {
        user,
        sessions_ended,
    }))
}

async fn account(
    Dispatcher(session): Dispatcher,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
    what: Account,
) -> Result<Json<AccountAnswer>, ApiError> {
    admin_only(&session)?;
    let username = username_of(p)?;
    let change = match what {
        Account::Disable => AccountChange::Disable,
        Account::Enable => AccountChange::Enable,
        Account::EndSessions => AccountChange::EndSessions,
    };
    change_account(&state, username, change).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct NewPassword {
    /// At least 10 characters that are not spaces, 5 of them different.
    #[schema(min_length = 10, max_length = 256)]
    password: String,
}

async fn reset_password(
    Dispatcher(session): Dispatcher,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
    req: Result<Json<NewPassword>, JsonRejection>,
) -> Result<Json<AccountAnswer>, ApiError> {
    admin_only(&session)?;
    let username = username_of(p)?;
    let NewPassword { password } = body(req)?;
    onsite_domain::records::check_password(&password, &username)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let hash = state.hashing(move || hash_password(&password)).await??;
    change_account(&state, username, AccountChange::SetPassword(hash)).await
}

async fn admin_put(
    Dispatcher(_): Dispatcher,
    State(state): State<AppState>,
    entity: Entity,
    req: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let row = body(req)?;
    let id = state
        .blocking(move |s| s.admin_create(entity, row, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Publishes a checklist template: a new one (no `id`, or an unknown one) at version 1,
/// or the next version of an existing one. Orders created or assigned from now on get it;
/// orders that have their checklist keep it.
async fn publish_template(
    Dispatcher(_): Dispatcher,
    State(state): State<AppState>,
    req: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let mut row = body(req)?;
    let id = match row.get("id") {
        None => Uuid::now_v7(),
        Some(v) => v.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "id: {v} is not a UUID; leave it out to publish a new checklist"
            ))
        })?,
    };
    row.insert("id".into(), json!(id));
    let version = state
        .blocking(move |s| s.publish_template(row, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(Published { id, version })))
}

async fn list_templates(
    Dispatcher(_): Dispatcher,
    State(state): State<AppState>,
) -> Result<Json<Templates>, ApiError> {
    let templates = state
        .blocking(move |s| s.reference(Entity::ChecklistTemplate))
        .await?;
    Ok(Json(Templates { templates }))
}

async fn create_work_order(
    Dispatcher(_): Dispatcher,
    State(state): State<AppState>,
    req: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let mut row = body(req)?;
    // A new order starts new; every later status goes by a transition.
    match row.get("status") {
        None => {
            row.insert("status".into(), Value::String(Status::New.as_str().into()));
        }
        Some(s) if s.as_str() == Some(Status::New.as_str()) => {}
        Some(s) => {
            return Err(ApiError::Unprocessable(format!(
                "status: a new work order starts as \"new\", not {s}; assign, cancel or close it with their calls"
            )));
        }
    }
    row.entry("reported_at").or_insert(json!(Utc::now()));
    if !row.get("number").is_some_and(Value::is_string) {
        let dept: Department = row
            .get("department")
            .and_then(Value::as_str)
            .unwrap_or("SC")
            .parse()
            .map_err(|e: onsite_domain::DomainError| ApiError::Unprocessable(e.to_string()))?;
        row.insert("department".into(), Value::String(dept.to_string()));
        let local = local_today()?;
        let numbers = state
            .blocking(move |s| s.lease_numbers(&dept, local, 1, s.number_width()))
            .await?;
        row.insert(
            "number".into(),
            Value::String(numbers.into_iter().next().unwrap_or_default()),
        );
    }
    let id = state
        .blocking(move |s| s.admin_create(Entity::WorkOrder, row, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn list_work_orders(
    Dispatcher(_): Dispatcher,
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<WorkOrders>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = q
        .status
        .map(|s| s.parse::<Status>())
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let orders = state.blocking(move |s| s.work_orders(status)).await?;
    Ok(Json(WorkOrders {
        work_orders: orders,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct AssignRequest {
    /// Each engineer once.
    #[schema(max_items = 20)]
    engineer_ids: Vec<Uuid>,
    /// One of `engineer_ids`, required when two or more go.
    manager_id: Option<Uuid>,
}

fn order_id(
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Uuid, ApiError> {
    let Path(id) = p.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    id.parse()
        .map_err(|_| ApiError::BadRequest(format!("{id:?} is not a work order id (UUID)")))
}

async fn assign(
    Dispatcher(_): Dispatcher,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
    req: Result<Json<AssignRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let id = order_id(p)?;
    let req = body(req)?;
    onsite_domain::work_order::check_assignment(&req.engineer_ids, req.manager_id)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    state
        .blocking(move |s| s.assign(id, &req.engineer_ids, req.manager_id, Utc::now()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn admin_transition(
    Dispatcher(session): Dispatcher,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
    to: Status,
) -> Result<StatusCode, ApiError> {
    let id = order_id(p)?;
    let role = session.user.role;
    state
        .blocking(move |s| s.admin_transition(id, to, role, Utc::now()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kept(
    Dispatcher(_): Dispatcher,
    State(state): State<AppState>,
    status: &'static str,
) -> Result<Json<Operations>, ApiError> {
    let ops = state.blocking(move |s| s.kept_ops(status)).await?;
    Ok(Json(Operations { operations: ops }))
}

fn blob_key(
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    let Path(sha) = p.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    onsite_domain::signature::check_sha256(&sha)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(sha)
}

async fn put_blob(
    Auth(session): Auth,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
    bytes: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let sha = blob_key(p)?;
    let bytes = bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("a blob is at most {MAX_BLOB_BYTES} bytes"))
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    let actual = onsite_domain::signature::sha256_hex(&bytes);
    if actual != sha {
        return Err(ApiError::Unprocessable(format!(
            "the bytes hash to {actual}, not {sha}: upload again"
        )));
    }
    let sender = session.user.id;
    let created = state
        .blocking(move |s| s.put_blob(&sha, &bytes, sender, Utc::now()))
        .await?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

async fn blob_upload(
    Auth(_): Auth,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<UploadState>, ApiError> {
    let sha = blob_key(p)?;
    Ok(Json(state.blocking(move |s| s.blob_upload(&sha)).await?))
}

#[derive(Debug, Deserialize)]
struct PieceQuery {
    offset: u64,
    total: u64,
}

async fn put_blob_piece(
    Auth(session): Auth,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
    q: Result<Query<PieceQuery>, QueryRejection>,
    bytes: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<UploadState>), ApiError> {
    let sha = blob_key(p)?;
    let Query(q) = q.map_err(|e| {
        ApiError::BadRequest(format!(
            "a piece needs ?offset=<bytes before it>&total=<bytes of the whole blob>: {}",
            e.body_text()
        ))
    })?;
    let bytes = bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "a piece is at most {MAX_BLOB_PIECE_BYTES} bytes: send smaller pieces"
            ))
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    if q.total > MAX_BLOB_BYTES as u64 {
        return Err(ApiError::TooLarge(format!(
            "a blob is at most {MAX_BLOB_BYTES} bytes"
        )));
    }
    if bytes.is_empty() && q.total > 0 {
        return Err(ApiError::BadRequest(
            "an empty piece: send some bytes".into(),
        ));
    }
    let sender = session.user.id;
    let outcome = state
        .blocking(move |s| s.put_blob_piece(&sha, q.offset, q.total, &bytes, sender, Utc::now()))
        .await?;
    match outcome {
        PieceOutcome::Accepted(st) if st.complete => Ok((StatusCode::CREATED, Json(st))),
        PieceOutcome::Accepted(st) => Ok((StatusCode::OK, Json(st))),
        PieceOutcome::OutOfPlace(st) => Err(ApiError::Conflict(format!(
            "the server holds {} bytes of this upload{}: send the piece that starts there",
            st.received,
            st.total.map(|t| format!(" of {t}")).unwrap_or_default()
        ))),
        PieceOutcome::HashMismatch { actual } => Err(ApiError::Unprocessable(format!(
            "the pieces hash to {actual}, not the name of the blob: upload it again from the start"
        ))),
    }
}

#[derive(Debug, Deserialize)]
struct ReceiptQuery {
    /// `repair_record` (default), `field_service_record`, `quote`, `settlement`,
    /// `service_receipt`, `checklist`.
    doc: Option<String>,
    /// `zh-CN` (default) or `en`.
    lang: Option<String>,
}

/// A printed document of one work order, made by the same function as the app's
/// (`onsite_receipt::render`); an engineer gets only the orders assigned to them.
/// The earlier reports of a piece of equipment: its finished work orders, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Reports {
    #[schema(value_type = Vec<Object>)]
    reports: Vec<Value>,
}

/// The earlier reports of a piece of equipment: its finished work orders, newest first
/// (what an engineer reads preparing a visit; each prints with `receipt.pdf`).
async fn equipment_reports(
    Auth(session): Auth,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<Reports>, ApiError> {
    let Path(id) = p.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{id:?} is not an equipment id (UUID)")))?;
    let user = session.user;
    let reports = state
        .blocking(move |s| s.equipment_reports(&user, id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such equipment in your scope".into()))?;
    Ok(Json(Reports { reports }))
}

async fn receipt_pdf(
    Auth(session): Auth,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
    q: Result<Query<ReceiptQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    use onsite_receipt::{Document, Lang, ReceiptError};
    let id = order_id(p)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let bad = |e: ReceiptError| ApiError::BadRequest(e.to_string());
    let doc: Document = q
        .doc
        .as_deref()
        .unwrap_or("repair_record")
        .parse()
        .map_err(bad)?;
    let lang: Lang = q.lang.as_deref().unwrap_or("zh-CN").parse().map_err(bad)?;
    let user = session.user;
    let rendered = state
        .blocking(move |s| {
            let Some(rows) = s.order_rows(&user, id)? else {
                return Ok(None);
            };
            // A signature image the server lacks is printed as a box that says so.
            let image = |sha: &str| s.blob(sha, &user, true).ok().flatten();
            Ok(Some(onsite_receipt::render_rows(
                id,
                rows.iter().map(|(e, b)| (*e, b.as_str())),
                image,
                doc,
                lang,
                Utc::now(),
            )))
        })
        .await?
        .ok_or_else(|| ApiError::NotFound("no such work order in your scope".into()))?;
    let pdf = rendered.map_err(|e| match e {
        ReceiptError::NoQuote | ReceiptError::NoSettlement => ApiError::NotFound(e.to_string()),
        ReceiptError::SettlementDiffers(_) => ApiError::Conflict(e.to_string()),
        ReceiptError::UnknownDocument(_) | ReceiptError::UnknownLang(_) => {
            ApiError::BadRequest(e.to_string())
        }
        ReceiptError::NoOrder(_) => ApiError::NotFound(e.to_string()),
        ReceiptError::Record { .. } | ReceiptError::Font | ReceiptError::Image(_) => {
            ApiError::Internal(e.to_string())
        }
    })?;
    let name = pdf.file_name.clone();
    // The name in ASCII for every client, and in UTF-8 (RFC 5987) for those that read it.
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
        ],
        pdf.bytes,
    )
        .into_response())
}

async fn get_blob(
    Auth(session): Auth,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let sha = blob_key(p)?;
    let user = session.user;
    let bytes = state
        .blocking(move |s| s.blob(&sha, &user, true))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such blob in your scope".into()))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    ))
}

async fn head_blob(
    Auth(session): Auth,
    State(state): State<AppState>,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let sha = blob_key(p)?;
    let user = session.user;
    match state.blocking(move |s| s.blob(&sha, &user, false)).await? {
        Some(_) => Ok(StatusCode::OK),
        None => Err(ApiError::NotFound("no such blob in your scope".into())),
    }
}
