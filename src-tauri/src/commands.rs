//! The commands the window calls: each one adapts a use case of [`onsite_app::App`]
//! (where they are tested without a window) to `invoke`. Only what needs the desktop is
//! here: the save dialog and the system's PDF viewer. The list of commands is kept in
//! `COMMANDS` (build.rs), the handler list (lib.rs), the capability file and the UI's
//! `api.ts`; a test checks that all four agree.

use onsite_app::closeout::{
    DeclineInput, QuoteInput, QuotePreview, RemoteInput, ResultInput, SatisfactionInput,
    SettleInput, SignDocumentInput, SignatureInput,
};
use onsite_app::documents::{PreviousReports, SavedDocument};
use onsite_app::milestones::{MilestoneInput, TrainingInput};
use onsite_app::orders::{
    ArrivalCallInput, CheckInput, ChecklistAnswer, CrossCheckInput, DiagnosisInput, OrderScreen,
    TransitionInput,
};
use onsite_app::parts::{BackAtHqInput, PartCancel, PartInput};
use onsite_app::photos::PhotoInput;
use onsite_app::requests::RequestInput;
use onsite_app::session::{AppInfo, Language, SessionInfo};
use onsite_app::time::{ExpenseInput, TimeInput};
use onsite_app::worklog::LogInput;
use onsite_app::{App, AppError, ErrorCode, SyncStatus};
use onsite_domain::Status;
use onsite_domain::records::Equipment;
use onsite_store::{VanStockLine, WorkOrderSummary};
use tauri::{AppHandle, State};
use uuid::Uuid;

#[tauri::command]
pub async fn app_info(app: State<'_, App>) -> Result<AppInfo, AppError> {
    app.app_info().await
}

#[tauri::command]
pub async fn set_language(app: State<'_, App>, language: Language) -> Result<(), AppError> {
    app.set_language(language).await
}

#[tauri::command]
pub async fn sign_in(
    app: State<'_, App>,
    server: String,
    username: String,
    password: String,
) -> Result<SessionInfo, AppError> {
    app.sign_in(&server, &username, &password).await
}

#[tauri::command]
pub async fn sign_out(app: State<'_, App>) -> Result<(), AppError> {
    app.sign_out().await
}

#[tauri::command]
pub async fn list_orders(
    app: State<'_, App>,
    statuses: Option<Vec<Status>>,
    limit: Option<u32>,
) -> Result<Vec<WorkOrderSummary>, AppError> {
    app.list_orders(statuses, limit).await
}

#[tauri::command]
pub async fn search_orders(
    app: State<'_, App>,
    query: String,
) -> Result<Vec<WorkOrderSummary>, AppError> {
    app.search_orders(query).await
}

#[tauri::command]
pub async fn order_detail(app: State<'_, App>, id: String) -> Result<OrderScreen, AppError> {
    app.order_detail(&id).await
}

#[tauri::command]
pub async fn transition_order(
    app: State<'_, App>,
    input: TransitionInput,
) -> Result<OrderScreen, AppError> {
    app.transition_order(input).await
}

#[tauri::command]
pub async fn answer_checklist_item(
    app: State<'_, App>,
    input: ChecklistAnswer,
) -> Result<OrderScreen, AppError> {
    app.answer_checklist_item(input).await
}

#[tauri::command]
pub async fn record_arrival_call(
    app: State<'_, App>,
    input: ArrivalCallInput,
) -> Result<OrderScreen, AppError> {
    app.record_arrival_call(input).await
}

#[tauri::command]
pub async fn check_in_out(app: State<'_, App>, input: CheckInput) -> Result<OrderScreen, AppError> {
    app.check_in_out(input).await
}

#[tauri::command]
pub async fn save_diagnosis(
    app: State<'_, App>,
    input: DiagnosisInput,
) -> Result<OrderScreen, AppError> {
    app.save_diagnosis(input).await
}

#[tauri::command]
pub async fn van_stock(app: State<'_, App>, query: String) -> Result<Vec<VanStockLine>, AppError> {
    app.van_stock(query).await
}

#[tauri::command]
pub async fn add_part(app: State<'_, App>, input: PartInput) -> Result<OrderScreen, AppError> {
    app.add_part(input).await
}

#[tauri::command]
pub async fn cancel_part(app: State<'_, App>, input: PartCancel) -> Result<OrderScreen, AppError> {
    app.cancel_part(input).await
}

#[tauri::command]
pub async fn back_at_hq(
    app: State<'_, App>,
    input: BackAtHqInput,
) -> Result<OrderScreen, AppError> {
    app.back_at_hq(input).await
}

#[tauri::command]
pub async fn price_quote(app: State<'_, App>, input: QuoteInput) -> Result<QuotePreview, AppError> {
    app.price_quote(input).await
}

#[tauri::command]
pub async fn present_quote(
    app: State<'_, App>,
    input: QuoteInput,
) -> Result<OrderScreen, AppError> {
    app.present_quote(input).await
}

#[tauri::command]
pub async fn approve_quote(
    app: State<'_, App>,
    input: SignatureInput,
) -> Result<OrderScreen, AppError> {
    app.approve_quote(input).await
}

#[tauri::command]
pub async fn decline_quote(
    app: State<'_, App>,
    input: DeclineInput,
) -> Result<OrderScreen, AppError> {
    app.decline_quote(input).await
}

#[tauri::command]
pub async fn settle(app: State<'_, App>, input: SettleInput) -> Result<OrderScreen, AppError> {
    app.settle(input).await
}

#[tauri::command]
pub async fn save_result(app: State<'_, App>, input: ResultInput) -> Result<OrderScreen, AppError> {
    app.save_result(input).await
}

#[tauri::command]
pub async fn record_satisfaction(
    app: State<'_, App>,
    input: SatisfactionInput,
) -> Result<OrderScreen, AppError> {
    app.record_satisfaction(input).await
}

#[tauri::command]
pub async fn sign_document(
    app: State<'_, App>,
    input: SignDocumentInput,
) -> Result<OrderScreen, AppError> {
    app.sign_document(input).await
}

#[tauri::command]
pub async fn resolve_remotely(
    app: State<'_, App>,
    input: RemoteInput,
) -> Result<OrderScreen, AppError> {
    app.resolve_remotely(input).await
}

#[tauri::command]
pub async fn customer_equipment(
    app: State<'_, App>,
    order_id: String,
) -> Result<Vec<Equipment>, AppError> {
    app.customer_equipment(order_id).await
}

#[tauri::command]
pub async fn register_request(
    app: State<'_, App>,
    input: RequestInput,
) -> Result<OrderScreen, AppError> {
    app.register_request(input).await
}

#[tauri::command]
pub async fn write_log(app: State<'_, App>, input: LogInput) -> Result<OrderScreen, AppError> {
    app.write_log(input).await
}

#[tauri::command]
pub async fn record_time(app: State<'_, App>, input: TimeInput) -> Result<OrderScreen, AppError> {
    app.record_time(input).await
}

#[tauri::command]
pub async fn record_expense(
    app: State<'_, App>,
    input: ExpenseInput,
) -> Result<OrderScreen, AppError> {
    app.record_expense(input).await
}

/// Raw bytes, not JSON.
#[tauri::command]
pub async fn photo(app: State<'_, App>, sha256: String) -> Result<tauri::ipc::Response, AppError> {
    app.photo(sha256).await.map(tauri::ipc::Response::new)
}

#[tauri::command]
pub async fn cross_check_item(
    app: State<'_, App>,
    input: CrossCheckInput,
) -> Result<OrderScreen, AppError> {
    app.cross_check_item(input).await
}

#[tauri::command]
pub async fn record_milestone(
    app: State<'_, App>,
    input: MilestoneInput,
) -> Result<OrderScreen, AppError> {
    app.record_milestone(input).await
}

#[tauri::command]
pub async fn record_training(
    app: State<'_, App>,
    input: TrainingInput,
) -> Result<OrderScreen, AppError> {
    app.record_training(input).await
}

#[tauri::command]
pub async fn acknowledge_problems(
    app: State<'_, App>,
    id: String,
) -> Result<OrderScreen, AppError> {
    app.acknowledge_problems(&id).await
}

/// The photo's file as the raw body, its `PhotoInput` as JSON in the `onsite-photo` header
/// (percent-encoded: headers are ASCII).
#[tauri::command]
pub async fn import_photo(
    app: State<'_, App>,
    request: tauri::ipc::Request<'_>,
) -> Result<OrderScreen, AppError> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(AppError::new(
            ErrorCode::Invalid,
            "the photo must come as raw bytes",
        ));
    };
    let input = request
        .headers()
        .get("onsite-photo")
        .and_then(|h| h.to_str().ok())
        .map(|h| percent_encoding::percent_decode_str(h).decode_utf8_lossy())
        .and_then(|json| serde_json::from_str::<PhotoInput>(&json).ok())
        .ok_or_else(|| AppError::new(ErrorCode::Invalid, "which order and kind of photo?"))?;
    let bytes = bytes.clone();
    app.import_photo(input, bytes).await
}

/// A photo's thumbnail, raw JPEG bytes.
#[tauri::command]
pub async fn photo_thumbnail(
    app: State<'_, App>,
    sha256: String,
) -> Result<tauri::ipc::Response, AppError> {
    app.photo_thumbnail(sha256)
        .await
        .map(tauri::ipc::Response::new)
}

#[tauri::command]
pub async fn sync_now(app: State<'_, App>) -> Result<(), AppError> {
    app.sync_now().await
}

#[tauri::command]
pub async fn sync_status(app: State<'_, App>) -> Result<SyncStatus, AppError> {
    Ok(app.sync_status().await)
}

/// The PDF of a document, for the window's preview. Raw bytes, not JSON.
#[tauri::command]
pub async fn document_pdf(
    app: State<'_, App>,
    id: Uuid,
    document: onsite_receipt::Document,
    language: Language,
) -> Result<tauri::ipc::Response, AppError> {
    let r = app.render_document(id, document, language).await?;
    Ok(tauri::ipc::Response::new(r.bytes))
}

/// The earlier reports of an order's equipment (fetched now when online, else kept).
#[tauri::command]
pub async fn previous_reports(
    app: State<'_, App>,
    order_id: String,
) -> Result<PreviousReports, AppError> {
    app.previous_reports(order_id).await
}

/// The PDF of an earlier report, for the window's preview. Raw bytes, not JSON.
#[tauri::command]
pub async fn previous_report_pdf(
    app: State<'_, App>,
    id: String,
    language: Language,
) -> Result<tauri::ipc::Response, AppError> {
    Ok(tauri::ipc::Response::new(
        app.previous_report_pdf(id, language).await?,
    ))
}

/// Asks where to save the document (the system's save dialog) and writes it there;
/// `None` when the engineer cancelled.
#[tauri::command]
pub async fn save_document(
    handle: AppHandle,
    app: State<'_, App>,
    id: Uuid,
    document: onsite_receipt::Document,
    language: Language,
) -> Result<Option<SavedDocument>, AppError> {
    use tauri_plugin_dialog::DialogExt;
    let r = app.render_document(id, document, language).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    handle
        .dialog()
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
    app.save_rendered(&path, &r).map(Some)
}

/// Writes the document into the app's `documents` folder and opens it in the system's
/// PDF viewer, to print from there. Works offline.
#[tauri::command]
pub async fn open_document(
    handle: AppHandle,
    app: State<'_, App>,
    id: Uuid,
    document: onsite_receipt::Document,
    language: Language,
) -> Result<SavedDocument, AppError> {
    use tauri_plugin_opener::OpenerExt;
    let (path, saved) = app.keep_document(id, document, language).await?;
    let shown = path.display().to_string();
    // The message is the saved file's path: the window tells where it is.
    handle
        .opener()
        .open_path(shown.clone(), None::<&str>)
        .map_err(|e| {
            tracing::warn!(path = %shown, error = %e, "no PDF viewer opened the document");
            AppError::new(ErrorCode::CannotOpen, shown.clone())
        })?;
    Ok(saved)
}
