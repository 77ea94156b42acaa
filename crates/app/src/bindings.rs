//! The TypeScript types of everything that crosses the IPC boundary, generated from the
//! Rust types with ts-rs into `ui/src/lib/bindings/` (one file per type).
//!
//! `cargo xtask bindings` writes them; a test fails when the committed files are stale.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, TS, TypeVisitor};

use crate::SyncStatus;
use crate::closeout::{
    DeclineInput, QuoteInput, QuotePreview, RemoteInput, ResultInput, SatisfactionInput,
    SettleInput, SignDocumentInput, SignatureInput,
};
use crate::documents::SavedDocument;
use crate::error::AppError;
use crate::milestones::{MilestoneInput, TrainingInput};
use crate::orders::CrossCheckInput;
use crate::orders::{
    ArrivalCallInput, CheckInput, ChecklistAnswer, DiagnosisInput, OrderScreen, TransitionInput,
};
use crate::parts::{BackAtHqInput, PartCancel, PartInput};
use crate::photos::PhotoInput;
use crate::requests::RequestInput;
use crate::session::{AppInfo, Language, SessionInfo};
use crate::time::{ExpenseInput, TimeInput};
use crate::worklog::LogInput;

/// Where the UI keeps the generated types, relative to the workspace root.
pub const DIR: &str = "ui/src/lib/bindings";

/// Every type that crosses the boundary, once: `ipc_types!(m)` expands `m!(T, …)`.
macro_rules! ipc_types {
    ($m:ident) => {
        $m!(
            AppInfo,
            Language,
            SessionInfo,
            OrderScreen,
            TransitionInput,
            ChecklistAnswer,
            ArrivalCallInput,
            CheckInput,
            DiagnosisInput,
            PartInput,
            PartCancel,
            BackAtHqInput,
            DeclineInput,
            QuoteInput,
            RemoteInput,
            QuotePreview,
            ResultInput,
            SatisfactionInput,
            SettleInput,
            SignDocumentInput,
            SignatureInput,
            RequestInput,
            crate::documents::PreviousReports,
            onsite_domain::records::Equipment,
            LogInput,
            PhotoInput,
            CrossCheckInput,
            MilestoneInput,
            TrainingInput,
            TimeInput,
            ExpenseInput,
            onsite_store::VanStockLine,
            AppError,
            SyncStatus,
            SavedDocument,
            onsite_receipt::Document,
            onsite_store::WorkOrderSummary,
            onsite_domain::Status
        )
    };
}

/// Writes the types (and every type they use) into `dir`.
pub fn export_to(dir: &Path) -> Result<(), ts_rs::ExportError> {
    std::fs::create_dir_all(dir)?;
    // Every integer the UI gets is far below 2^53: plain numbers, not bigint.
    let cfg = Config::new().with_out_dir(dir).with_large_int("number");
    macro_rules! export {
        ($($t:ty),*) => { $( <$t>::export_all(&cfg)?; )* };
    }
    ipc_types!(export);
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
    macro_rules! visit {
        ($($t:ty),*) => { $( files.visit::<$t>(); )* };
    }
    ipc_types!(visit);
    files.clashes
}
