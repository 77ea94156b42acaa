//! Printed documents and photos, from this laptop's rows, offline. The shell adds only
//! what needs the desktop: the save dialog and opening a file in the system's viewer.

use std::path::{Path, PathBuf};

use chrono::Utc;
use onsite_sync_client::Client;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::session::Language;
use crate::{App, AppError, ErrorCode};

/// What became of a document the engineer saved or opened.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SavedDocument {
    pub path: String,
    pub pages: u32,
    /// Characters the font cannot draw, printed as a red `[U+XXXX]`.
    pub missing_glyphs: Vec<String>,
}

/// The earlier reports of an order's equipment (its finished orders, newest first), as the
/// server last gave them: fetched while online (preparing the visit) and kept, so that
/// they are there on site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PreviousReports {
    pub reports: Vec<onsite_domain::WorkOrder>,
    /// When they were fetched; `None`: never (the order has no equipment, or the laptop
    /// has not been online since it got the order).
    pub fetched_at: Option<chrono::DateTime<Utc>>,
    /// The server could not be reached just now: these are the kept ones.
    pub offline: bool,
}

fn reports_key(equipment: Uuid) -> String {
    format!("previous_reports.{equipment}")
}

fn report_pdf_key(order: Uuid, language: Language) -> String {
    format!("report_pdf.{order}.{}", language.as_str())
}

/// Writes `bytes` to `path` and flushes them to the disk before answering.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
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

impl App {
    /// Makes a printed document of order `id` in `language`, from this laptop's rows with
    /// the function the server uses too (`onsite_receipt::render_rows`). Signature images
    /// the laptop lacks are fetched first when the server is reachable; offline, such an
    /// image prints as a box that says so.
    pub async fn render_document(
        &self,
        id: Uuid,
        document: onsite_receipt::Document,
        language: Language,
    ) -> Result<onsite_receipt::Rendered, AppError> {
        if let Some(session) = self.session() {
            let images: Vec<String> = self
                .with_store(move |s| {
                    Ok(s.work_order(id)?
                        .signatures
                        .into_iter()
                        .map(|sig| sig.sha256)
                        .collect())
                })
                .await?;
            let store = self.store()?;
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
        self.with_store(move |s| {
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

    /// Writes a rendered document to `path`, on the disk before this returns.
    pub fn save_rendered(
        &self,
        path: &Path,
        r: &onsite_receipt::Rendered,
    ) -> Result<SavedDocument, AppError> {
        write_durably(path, &r.bytes)?;
        Ok(SavedDocument {
            path: path.display().to_string(),
            pages: u32::try_from(r.pages).unwrap_or(u32::MAX),
            missing_glyphs: r.missing_glyphs.iter().map(char::to_string).collect(),
        })
    }

    /// Writes the document into the app's `documents` folder, to be opened and printed
    /// from there.
    pub async fn keep_document(
        &self,
        id: Uuid,
        document: onsite_receipt::Document,
        language: Language,
    ) -> Result<(PathBuf, SavedDocument), AppError> {
        let r = self.render_document(id, document, language).await?;
        let path = self.documents_dir().join(&r.file_name);
        let saved = self.save_rendered(&path, &r)?;
        Ok((path, saved))
    }

    /// A photo's or signature's bytes, for the window to show: from this laptop, else
    /// fetched from the server (hash checked, then kept here).
    pub async fn photo(&self, sha256: String) -> Result<Vec<u8>, AppError> {
        onsite_domain::signature::check_sha256(&sha256)
            .map_err(|e| AppError::new(ErrorCode::Invalid, e.to_string()))?;
        let store = self.store()?;
        let not_here = |detail: String| AppError::new(ErrorCode::PhotoNotHere, detail);
        let bytes = match self.session() {
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
                self.with_store(move |s| Ok(s.blob(&key)?)).await?
            }
        };
        bytes.ok_or_else(|| {
            not_here(format!(
                "photo {sha256} is on neither this laptop nor the server"
            ))
        })
    }

    /// The earlier reports of order `id`'s equipment — its other finished orders, not this
    /// one once it is finished too: fetched now when the server answers (and kept), else
    /// the ones kept from the last time.
    pub async fn previous_reports(&self, id: String) -> Result<PreviousReports, AppError> {
        let order = crate::orders::order_id(&id)?;
        let mut reports = self.equipment_reports(order).await?;
        reports.reports.retain(|r| r.id != order);
        Ok(reports)
    }

    /// The finished orders of order `order`'s equipment, as the server lists them.
    async fn equipment_reports(&self, order: Uuid) -> Result<PreviousReports, AppError> {
        let session = self.signed_in()?;
        let equipment = self
            .with_store(move |s| Ok(s.work_order(order)?.order.equipment_id))
            .await?;
        let Some(equipment) = equipment else {
            return Ok(PreviousReports {
                reports: Vec::new(),
                fetched_at: None,
                offline: false,
            });
        };
        let kept = || async {
            self.with_store(move |s| {
                Ok(s.setting(&reports_key(equipment))?
                    .and_then(|json| serde_json::from_str::<PreviousReports>(&json).ok()))
            })
            .await
        };
        match Client::new(&session).equipment_reports(equipment).await {
            Ok(fetched) => {
                let now = PreviousReports {
                    reports: fetched.unwrap_or_default(),
                    fetched_at: Some(Utc::now()),
                    offline: false,
                };
                let json = serde_json::to_string(&now)
                    .map_err(|e| AppError::new(ErrorCode::Storage, e.to_string()))?;
                self.with_store(move |s| Ok(s.set_setting(&reports_key(equipment), &json)?))
                    .await?;
                Ok(now)
            }
            Err(onsite_sync_client::SyncError::Offline(_)) => Ok(PreviousReports {
                offline: true,
                ..kept().await?.unwrap_or(PreviousReports {
                    reports: Vec::new(),
                    fetched_at: None,
                    offline: true,
                })
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The repair record of an earlier order of the equipment (one of
    /// [`App::previous_reports`]), as the server prints it: kept here once fetched, so it
    /// opens offline afterwards.
    pub async fn previous_report_pdf(
        &self,
        id: String,
        language: Language,
    ) -> Result<Vec<u8>, AppError> {
        let session = self.signed_in()?;
        let order = crate::orders::order_id(&id)?;
        let kept = self
            .with_store(move |s| {
                Ok(match s.setting(&report_pdf_key(order, language))? {
                    Some(sha) => s.blob(&sha)?,
                    None => None,
                })
            })
            .await?;
        if let Some(bytes) = kept {
            return Ok(bytes);
        }
        let fetched = Client::new(&session)
            .receipt_pdf(order, "repair_record", language.as_str())
            .await
            .map_err(|e| match e {
                onsite_sync_client::SyncError::Offline(why) => AppError::new(
                    ErrorCode::Offline,
                    format!(
                        "this report is not on the laptop yet, and {why}: connect once to fetch it"
                    ),
                ),
                e => e.into(),
            })?
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::NotFound,
                    format!("the server has no report of order {order} for you"),
                )
            })?;
        let bytes = fetched.clone();
        self.with_store(move |s| {
            let sha = s.put_blob(&bytes)?;
            Ok(s.set_setting(&report_pdf_key(order, language), &sha)?)
        })
        .await?;
        Ok(fetched)
    }
}
