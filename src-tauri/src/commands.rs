//! The commands the UI calls, with the types they take and give (all in the TypeScript
//! bindings). Each parses its input, calls the crates and maps their errors; nothing here
//! decides a rule.

use chrono::{DateTime, Utc};
use onsite_domain::Status;
use onsite_domain::records::User;
use onsite_domain::work_order::{self, Role};
use onsite_store::{Page, WorkOrderDetail, WorkOrderSummary};
use onsite_sync_client::{Client, Session};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tauri::{AppHandle, State};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{AppError, ErrorCode};
use crate::state::{AppState, SyncStatus, status_of};

/// The languages the app speaks; zh-CN is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub enum Language {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

const LANGUAGE_KEY: &str = "language";

/// Who is signed in, where.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SessionInfo {
    pub server: String,
    pub user: User,
    pub expires_at: DateTime<Utc>,
}

impl From<&Session> for SessionInfo {
    fn from(s: &Session) -> SessionInfo {
        SessionInfo {
            server: s.server.clone(),
            user: s.user.clone(),
            expires_at: s.expires_at,
        }
    }
}

/// What the window needs first.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct AppInfo {
    pub session: Option<SessionInfo>,
    pub language: Language,
    /// Offered in the sign-in form (`ONSITE_SERVER`, else the last server used).
    pub default_server: String,
    pub version: String,
    /// Set when the local database cannot be used; the app shows it and what to do.
    pub open_error: Option<AppError>,
    /// The demo's logins, shown on the sign-in form when the app was started by
    /// `cargo xtask run` (`ONSITE_DEMO_LOGINS`, `ONSITE_DEMO_PASSWORD`).
    pub demo: Option<DemoHint>,
}

/// Demo logins to offer on the sign-in form.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DemoHint {
    pub logins: Vec<String>,
    pub password: String,
}

fn demo_hint() -> Option<DemoHint> {
    let logins = std::env::var("ONSITE_DEMO_LOGINS").ok()?;
    let password = std::env::var("ONSITE_DEMO_PASSWORD").ok()?;
    let logins: Vec<String> = logins
        .split(',')
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    (!logins.is_empty()).then_some(DemoHint { logins, password })
}

/// One work order on its screen, with the steps the engineer may take next.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct OrderScreen {
    pub detail: WorkOrderDetail,
    pub next_statuses: Vec<Status>,
}

/// A step in an order's lifecycle, as the engineer asks for it.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct TransitionInput {
    pub id: String,
    pub to: Status,
    /// The new visit time, when postponing.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Why, when postponing.
    pub reason: Option<String>,
}

fn order_id(id: &str) -> Result<Uuid, AppError> {
    id.parse()
        .map_err(|_| AppError::new(ErrorCode::Invalid, format!("{id:?} is not a work order id")))
}

#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> Result<AppInfo, AppError> {
    let version = env!("CARGO_PKG_VERSION").to_owned();
    if let Some(e) = state.open_error() {
        return Ok(AppInfo {
            session: None,
            language: Language::default(),
            default_server: String::new(),
            version,
            open_error: Some(e.clone()),
            demo: None,
        });
    }
    let language = state
        .with_store(|s| Ok(s.setting(LANGUAGE_KEY)?))
        .await?
        .and_then(|l| serde_json::from_value(Value::String(l)).ok())
        .unwrap_or_default();
    let session = state.session();
    let default_server = std::env::var("ONSITE_SERVER")
        .ok()
        .or_else(|| session.as_ref().map(|s| s.server.clone()))
        .unwrap_or_else(|| "http://127.0.0.1:8787".into());
    Ok(AppInfo {
        session: session.as_ref().map(SessionInfo::from),
        language,
        default_server,
        version,
        open_error: None,
        demo: demo_hint(),
    })
}

#[tauri::command]
pub async fn set_language(state: State<'_, AppState>, language: Language) -> Result<(), AppError> {
    let value = match language {
        Language::ZhCn => "zh-CN",
        Language::En => "en",
    };
    state
        .with_store(move |s| Ok(s.set_setting(LANGUAGE_KEY, value)?))
        .await
}

#[tauri::command]
pub async fn sign_in(
    app: AppHandle,
    state: State<'_, AppState>,
    server: String,
    username: String,
    password: String,
) -> Result<SessionInfo, AppError> {
    if username.trim().is_empty() || password.is_empty() {
        return Err(AppError::new(
            ErrorCode::Invalid,
            "enter your user name and password",
        ));
    }
    let device_id = state.with_store(|s| Ok(s.device_id().to_owned())).await?;
    let device_name = std::env::var("HOSTNAME").unwrap_or_else(|_| "Onsite desktop".into());
    let session = Client::login(
        &server,
        username.trim(),
        &password,
        &device_id,
        &device_name,
    )
    .await
    .map_err(AppError::from_sign_in)?;
    let info = SessionInfo::from(&session);
    state.start_session(&app, session).await?;
    Ok(info)
}

#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> Result<(), AppError> {
    state.sign_out().await
}

/// My open orders, most urgent first; `statuses` narrows the list.
#[tauri::command]
pub async fn list_orders(
    state: State<'_, AppState>,
    statuses: Option<Vec<Status>>,
    limit: Option<u32>,
) -> Result<Vec<WorkOrderSummary>, AppError> {
    let page = Page {
        offset: 0,
        limit: limit.unwrap_or(200).min(1000),
    };
    state
        .with_store(move |s| Ok(s.open_work_orders(statuses.as_deref(), page)?))
        .await
}

#[tauri::command]
pub async fn search_orders(
    state: State<'_, AppState>,
    query: String,
) -> Result<Vec<WorkOrderSummary>, AppError> {
    state.with_store(move |s| Ok(s.search(&query, 100)?)).await
}

fn screen(detail: WorkOrderDetail) -> OrderScreen {
    let next_statuses = work_order::next_statuses(detail.order.status, Role::Engineer);
    OrderScreen {
        detail,
        next_statuses,
    }
}

#[tauri::command]
pub async fn order_detail(state: State<'_, AppState>, id: String) -> Result<OrderScreen, AppError> {
    let id = order_id(&id)?;
    let detail = state.with_store(move |s| Ok(s.work_order(id)?)).await?;
    Ok(screen(detail))
}

/// Moves an order on (accept, en route, on site, postpone…), offline: saved on disk
/// before this returns, sent by the sync engine when it can.
#[tauri::command]
pub async fn transition_order(
    state: State<'_, AppState>,
    input: TransitionInput,
) -> Result<OrderScreen, AppError> {
    if state.session().is_none() {
        return Err(AppError::not_signed_in());
    }
    let id = order_id(&input.id)?;
    let mut fields = Map::new();
    if let Some(at) = input.scheduled_at {
        fields.insert("scheduled_at".into(), serde_json::json!(at));
    }
    if let Some(reason) = input
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
    {
        fields.insert("postpone_reason".into(), Value::String(reason));
    }
    let to = input.to;
    let detail = state
        .with_store(move |s| {
            s.transition(id, to, fields, Utc::now())?;
            Ok(s.work_order(id)?)
        })
        .await?;
    state.local_write().await;
    Ok(screen(detail))
}

/// A photo's or signature's bytes, for the window to show: from this laptop, else fetched
/// from the server (hash checked, then kept here). Raw bytes, not JSON.
#[tauri::command]
pub async fn photo(
    state: State<'_, AppState>,
    sha256: String,
) -> Result<tauri::ipc::Response, AppError> {
    onsite_domain::signature::check_sha256(&sha256)
        .map_err(|e| AppError::new(ErrorCode::Invalid, e.to_string()))?;
    let store = state.store()?;
    let not_here = |detail: String| AppError::new(ErrorCode::PhotoNotHere, detail);
    let bytes = match state.session() {
        Some(session) => {
            let client = Client::new(&session);
            match onsite_sync_client::fetch_blob(&store, &client, &sha256).await {
                Ok(b) => b,
                Err(onsite_sync_client::SyncError::Offline(why)) => {
                    return Err(not_here(format!("not on this laptop, and {why}")));
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => {
            let key = sha256.clone();
            state.with_store(move |s| Ok(s.blob(&key)?)).await?
        }
    };
    bytes.map(tauri::ipc::Response::new).ok_or_else(|| {
        not_here(format!(
            "photo {sha256} is on neither this laptop nor the server"
        ))
    })
}

#[tauri::command]
pub async fn sync_now(state: State<'_, AppState>) -> Result<(), AppError> {
    state.sync_now().await
}

#[tauri::command]
pub async fn sync_status(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<SyncStatus, AppError> {
    let s = state.sync_state().await;
    Ok(status_of(&app, s).await)
}

/// Makes a printed document of order `id` in `language`, from this laptop's rows with the
/// function the server uses too (`onsite_receipt::render_rows`). Signature images the
/// laptop lacks are fetched first when the server is reachable; offline, such an image
/// prints as a box that says so.
async fn render_document(
    state: &AppState,
    id: Uuid,
    document: onsite_receipt::Document,
    language: Language,
) -> Result<onsite_receipt::Rendered, AppError> {
    if let Some(session) = state.session() {
        let images: Vec<String> = state
            .with_store(move |s| {
                Ok(s.work_order(id)?
                    .signatures
                    .into_iter()
                    .map(|sig| sig.sha256)
                    .collect())
            })
            .await?;
        let store = state.store()?;
        let client = Client::new(&session);
        for sha in images {
            if let Err(e) = onsite_sync_client::fetch_blob(&store, &client, &sha).await {
                tracing::info!(%sha, error = %e, "a signature image stays missing on this print");
            }
        }
    }
    let lang = match language {
        Language::ZhCn => onsite_receipt::Lang::Zh,
        Language::En => onsite_receipt::Lang::En,
    };
    state
        .with_store(move |s| {
            let rows = s.order_rows(id)?;
            Ok(onsite_receipt::render_rows(
                id,
                rows.iter().map(|(e, b)| (*e, b.as_str())),
                |sha| s.blob(sha).ok().flatten(),
                document,
                lang,
                Utc::now(),
            )?)
        })
        .await
}

/// Writes `bytes` to `path` and flushes them to the disk before answering.
fn write_durably(path: &std::path::Path, bytes: &[u8]) -> Result<(), AppError> {
    use std::io::Write;
    let failed = |e: std::io::Error| {
        AppError::new(
            ErrorCode::PrintFailed,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut f = std::fs::File::create(path).map_err(failed)?;
    f.write_all(bytes).map_err(failed)?;
    f.sync_all().map_err(failed)
}

/// The PDF of a document, for the window's preview. Raw bytes, not JSON.
#[tauri::command]
pub async fn document_pdf(
    state: State<'_, AppState>,
    id: Uuid,
    document: onsite_receipt::Document,
    language: Language,
) -> Result<tauri::ipc::Response, AppError> {
    let r = render_document(&state, id, document, language).await?;
    Ok(tauri::ipc::Response::new(r.bytes))
}

/// What became of a document the engineer saved or opened.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SavedDocument {
    pub path: String,
    pub pages: u32,
    /// Characters the font cannot draw, printed as a red `[U+XXXX]`.
    pub missing_glyphs: Vec<String>,
}

fn saved(path: &std::path::Path, r: &onsite_receipt::Rendered) -> SavedDocument {
    SavedDocument {
        path: path.display().to_string(),
        pages: u32::try_from(r.pages).unwrap_or(u32::MAX),
        missing_glyphs: r.missing_glyphs.iter().map(char::to_string).collect(),
    }
}

/// Asks where to save the document (the system's save dialog) and writes it there;
/// `None` when the engineer cancelled.
#[tauri::command]
pub async fn save_document(
    app: AppHandle,
    state: State<'_, AppState>,
    id: Uuid,
    document: onsite_receipt::Document,
    language: Language,
) -> Result<Option<SavedDocument>, AppError> {
    use tauri_plugin_dialog::DialogExt;
    let r = render_document(&state, id, document, language).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_file_name(&r.file_name)
        .add_filter("PDF", &["pdf"])
        .save_file(move |path| {
            // The window waits for this answer; a closed channel only means it stopped.
            let _ = tx.send(path);
        });
    let Some(path) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    let path = path.into_path().map_err(|e| {
        AppError::new(
            ErrorCode::Invalid,
            format!("that place cannot be saved to: {e}"),
        )
    })?;
    write_durably(&path, &r.bytes)?;
    Ok(Some(saved(&path, &r)))
}

/// Writes the document into the app's `documents` folder and opens it in the system's
/// PDF viewer, to print from there. Works offline.
#[tauri::command]
pub async fn open_document(
    app: AppHandle,
    state: State<'_, AppState>,
    id: Uuid,
    document: onsite_receipt::Document,
    language: Language,
) -> Result<SavedDocument, AppError> {
    use tauri_plugin_opener::OpenerExt;
    let r = render_document(&state, id, document, language).await?;
    let path = state.documents_dir().join(&r.file_name);
    write_durably(&path, &r.bytes)?;
    let shown = path.display().to_string();
    // The message is the saved file's path: the window tells where it is.
    app.opener()
        .open_path(shown.clone(), None::<&str>)
        .map_err(|e| {
            tracing::warn!(path = %shown, error = %e, "no PDF viewer opened the document");
            AppError::new(ErrorCode::CannotOpen, shown.clone())
        })?;
    Ok(saved(&path, &r))
}
