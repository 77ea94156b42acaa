//! The desktop shell: Tauri commands and events that adapt the local store and the sync
//! engine to the UI. A command parses its input, calls the crates, and maps their errors
//! to an [`AppError`] whose code the UI translates. No SQL, no business rule and no HTTP
//! live here: those are in `onsite-store`, `onsite-domain` and `onsite-sync-client`.
//!
//! - [`commands`]: what the UI can call (`invoke`), with the types it sends and receives;
//! - [`state::AppState`]: the opened store, the session and the running sync engine;
//! - [`bindings`]: the TypeScript types of all of it, generated into `ui/src/lib/bindings`.
//!
//! The sync engine's state reaches the UI as the `sync-status` event.

pub mod bindings;
pub mod commands;
pub mod error;
pub mod state;

use std::path::PathBuf;

use tauri::{Manager, RunEvent};

pub use error::{AppError, ErrorCode};

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
            let state = state::AppState::open(&dir);
            app.manage(state);
            let handle = app.handle().clone();
            tauri::async_runtime::block_on(async move {
                let state = handle.state::<state::AppState>();
                state.resume(&handle).await;
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
            commands::photo,
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
                handle.state::<state::AppState>().shut_down().await;
            });
        }
    });
}
