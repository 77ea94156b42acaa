//! The desktop shell: the window, and Tauri commands that adapt the use cases of
//! `onsite-app` to it. Each command is one call into [`onsite_app::App`]; no SQL, no
//! business rule, no HTTP and no use case live here.
//!
//! - [`commands`]: what the UI can call (`invoke`);
//! - the sync engine's state reaches the UI as the `sync-status` event ([`SYNC_EVENT`]).

pub mod commands;

use std::path::PathBuf;
use std::sync::Arc;

use onsite_app::{App, Events, KeySource, SyncStatus};
use tauri::{AppHandle, Emitter, Manager, RunEvent};

/// The event the sync bar listens to.
pub const SYNC_EVENT: &str = "sync-status";

/// The app's events, sent to the window.
struct WindowEvents(AppHandle);

impl Events for WindowEvents {
    fn sync_status(&self, status: SyncStatus) {
        if let Err(e) = self.0.emit(SYNC_EVENT, status) {
            tracing::warn!(error = %e, "could not send the sync status to the window");
        }
    }
}

/// Where the app keeps its database: `ONSITE_DATA_DIR` when set (tests, several engineers
/// on one machine), otherwise the platform's app data folder.
fn data_dir(app: &tauri::App) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("ONSITE_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    app.path()
        .app_data_dir()
        .map_err(|e| format!("no folder for the app's data: {e}"))
}

/// Starts the app: opens the local store, resumes a kept session (offline too) and its
/// background sync, and shows the window.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,onsite=debug".into()),
        )
        .init();
    let app = tauri::Builder::default()
        // Used from Rust only (the save dialog, opening a PDF to print): the window is
        // granted none of their commands.
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .setup(|app| {
            let dir = data_dir(app)?;
            let events = Arc::new(WindowEvents(app.handle().clone()));
            app.manage(App::open(&dir, KeySource::Keyring, events));
            let handle = app.handle().clone();
            tauri::async_runtime::block_on(async move {
                handle.state::<App>().resume().await;
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::set_language,
            commands::sign_in,
            commands::sign_out,
            commands::list_orders,
            commands::search_orders,
            commands::order_detail,
            commands::transition_order,
            commands::answer_checklist_item,
            commands::record_arrival_call,
            commands::check_in_out,
            commands::save_diagnosis,
            commands::van_stock,
            commands::add_part,
            commands::cancel_part,
            commands::back_at_hq,
            commands::price_quote,
            commands::present_quote,
            commands::approve_quote,
            commands::decline_quote,
            commands::settle,
            commands::save_result,
            commands::record_satisfaction,
            commands::sign_document,
            commands::resolve_remotely,
            commands::customer_equipment,
            commands::register_request,
            commands::previous_reports,
            commands::previous_report_pdf,
            commands::write_log,
            commands::record_time,
            commands::record_expense,
            commands::cross_check_item,
            commands::record_milestone,
            commands::record_training,
            commands::acknowledge_problems,
            commands::photo,
            commands::import_photo,
            commands::photo_thumbnail,
            commands::document_pdf,
            commands::save_document,
            commands::open_document,
            commands::sync_now,
            commands::sync_status,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: Onsite could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            let handle = handle.clone();
            tauri::async_runtime::block_on(async move {
                handle.state::<App>().shut_down().await;
            });
        }
    });
}
