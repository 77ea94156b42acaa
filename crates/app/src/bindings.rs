//! The TypeScript types of everything that crosses the IPC boundary, generated from the
//! Rust types with ts-rs into `ui/src/lib/bindings/` (one file per type).
//!
//! `cargo xtask bindings` writes them; a test fails when the committed files are stale.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, TS, TypeVisitor};

use crate::SyncStatus;
use crate::documents::SavedDocument;
use crate::error::AppError;
use crate::orders::{ChecklistAnswer, OrderScreen, TransitionInput};
use crate::session::{AppInfo, Language, SessionInfo};

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
    ChecklistAnswer::export_all(&cfg)?;
    AppError::export_all(&cfg)?;
    SyncStatus::export_all(&cfg)?;
    SavedDocument::export_all(&cfg)?;
    onsite_receipt::Document::export_all(&cfg)?;
    onsite_store::WorkOrderSummary::export_all(&cfg)?;
    onsite_domain::Status::export_all(&cfg)?;
    Ok(())
}

/// Walks a type and everything it uses, noting which Rust type each file would hold.
#[derive(Debug, Default)]
struct Files {
    owner: BTreeMap<PathBuf, (TypeId, &'static str)>,
    clashes: Vec<String>,
}

impl TypeVisitor for Files {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        let Some(path) = T::output_path() else {
            return;
        };
        let id = TypeId::of::<T>();
        let rust = std::any::type_name::<T>();
        match self.owner.get(&path) {
            Some((other, _)) if *other == id => {}
            // ts-rs writes serde_json's `Value` through a twin type of its own.
            Some((_, other)) if other.starts_with("ts_rs::") || rust.starts_with("ts_rs::") => {}
            Some((_, other)) => self.clashes.push(format!(
                "{} and {rust} both export {} (rename one with #[ts(rename = …)])",
                other,
                path.display()
            )),
            None => {
                self.owner.insert(path, (id, rust));
                T::visit_dependencies(self);
            }
        }
    }
}

/// Two Rust types with the same name (say `sla::Milestone` and `records::Milestone`) would
/// write the same file, and which one wins would depend on the order of export.
pub fn clashes() -> Vec<String> {
    let mut files = Files::default();
    files.visit::<AppInfo>();
    files.visit::<Language>();
    files.visit::<SessionInfo>();
    files.visit::<OrderScreen>();
    files.visit::<TransitionInput>();
    files.visit::<ChecklistAnswer>();
    files.visit::<AppError>();
    files.visit::<SyncStatus>();
    files.visit::<onsite_store::WorkOrderSummary>();
    files.visit::<onsite_domain::Status>();
    files.clashes
}
