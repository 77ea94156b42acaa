//! The TypeScript types of everything that crosses the IPC boundary, generated from the
//! Rust types with ts-rs into `ui/src/lib/bindings/` (one file per type).
//!
//! `cargo xtask bindings` writes them; a test fails when the committed files are stale.

use std::path::Path;

use ts_rs::{Config, TS};

use crate::commands::{AppInfo, Language, OrderScreen, SessionInfo, TransitionInput};
use crate::error::AppError;
use crate::state::SyncStatus;

/// Where the UI keeps the generated types, relative to the workspace root.
pub const DIR: &str = "ui/src/lib/bindings";

/// Writes the types (and every type they use) into `dir`.
pub fn export_to(dir: &Path) -> Result<(), ts_rs::ExportError> {
    std::fs::create_dir_all(dir)?;
    // Every integer the UI gets is far below 2^53: plain numbers, not bigint.
    let cfg = Config::new().with_out_dir(dir).with_large_int("number");
    AppInfo::export_all(&cfg)?;
    Language::export_all(&cfg)?;
    SessionInfo::export_all(&cfg)?;
    OrderScreen::export_all(&cfg)?;
    TransitionInput::export_all(&cfg)?;
    AppError::export_all(&cfg)?;
    SyncStatus::export_all(&cfg)?;
    onsite_store::WorkOrderSummary::export_all(&cfg)?;
    onsite_domain::Status::export_all(&cfg)?;
    Ok(())
}
