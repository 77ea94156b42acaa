//! The documents an engineer prints or hands over on site (DOMAIN.md, "Documents the
//! engineer prints or hands over"), as A4 PDFs in Chinese or English:
//!
//! - [`Document::RepairRecord`] 售后服务维修记录单, three labelled copies (存根 / 售后服务 / 客户),
//! - [`Document::FieldServiceRecord`] 外出安装/售后/维修服务记录表,
//! - [`Document::Quote`] 报价单 and [`Document::Settlement`] 结算单,
//! - [`Document::ServiceReceipt`] 服务回执单.
//!
//! One function, [`render`], serves the desktop app and the server: both build an
//! [`OrderFile`] from their stored rows with [`OrderFile::from_rows`] and get the same
//! bytes for the same order, language and `generated_at`. The font is inside the crate
//! and only the glyphs a document uses are embedded.

mod docs;
mod font;
mod input;
mod page;
pub mod sample;
mod words;

use chrono::{DateTime, Utc};
use printpdf::{FontId, PdfDocument, PdfPage, PdfSaveOptions, XObject};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use input::OrderFile;

use crate::page::{Canvas, Head, MARGIN, PAGE_H, PAGE_W};
use crate::words::{Fmt, Words, words};

/// What went wrong; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("work order {0} is not on this device or server")]
    NoOrder(Uuid),
    #[error("a stored {entity} record cannot be read ({message}); sync again or report it")]
    Record {
        entity: &'static str,
        message: String,
    },
    #[error(
        "the document font could not be loaded: the installation is damaged, reinstall the app"
    )]
    Font,
    #[error("a signature image cannot be drawn ({0}); ask the customer to sign again")]
    Image(String),
    #[error("there is no quote on this work order to print")]
    NoQuote,
    #[error("there is no settlement on this work order to print: settle the approved quote first")]
    NoSettlement,
    #[error(
        "the settlement does not match the approved quote; a customer document shows only what was agreed: {0}"
    )]
    SettlementDiffers(String),
    #[error(
        "unknown document {0:?}: use repair_record, field_service_record, quote, settlement or service_receipt"
    )]
    UnknownDocument(String),
    #[error("unknown language {0:?}: use zh-CN or en")]
    UnknownLang(String),
}

/// The language of a document: the app's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl std::str::FromStr for Lang {
    type Err = ReceiptError;
    fn from_str(s: &str) -> Result<Lang, ReceiptError> {
        match s.to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" => Ok(Lang::Zh),
            "en" | "en-us" | "en-gb" => Ok(Lang::En),
            _ => Err(ReceiptError::UnknownLang(s.to_owned())),
        }
    }
}

/// The printable documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "PrintedDocument"))]
#[serde(rename_all = "snake_case")]
pub enum Document {
    RepairRecord,
    FieldServiceRecord,
    Quote,
    Settlement,
    ServiceReceipt,
    /// 现场点检表: the checklist as answered, failures in red.
    Checklist,
}

impl Document {
    pub const ALL: [Document; 6] = [
        Document::RepairRecord,
        Document::FieldServiceRecord,
        Document::Quote,
        Document::Settlement,
        Document::ServiceReceipt,
        Document::Checklist,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Document::RepairRecord => "repair_record",
            Document::FieldServiceRecord => "field_service_record",
            Document::Quote => "quote",
            Document::Settlement => "settlement",
            Document::ServiceReceipt => "service_receipt",
            Document::Checklist => "checklist",
        }
    }
}

impl std::str::FromStr for Document {
    type Err = ReceiptError;
    fn from_str(s: &str) -> Result<Document, ReceiptError> {
        Document::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| ReceiptError::UnknownDocument(s.to_owned()))
    }
}

/// A finished PDF.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// What to save it as ([`file_name`]).
    pub file_name: String,
    pub pages: usize,
    /// Characters the font cannot draw, printed as a red `[U+XXXX]` instead.
    pub missing_glyphs: Vec<char>,
}

/// The file name to save a document under: `SC2611-07_维修记录单.pdf`.
pub fn file_name(file: &OrderFile, doc: Document, lang: Lang) -> String {
    let w = words(lang);
    let title = match doc {
        Document::RepairRecord => w.repair_title,
        Document::FieldServiceRecord => w.field_title,
        Document::Quote => w.quote_title,
        Document::Settlement => w.settlement_title,
        Document::ServiceReceipt => w.receipt_title,
        Document::Checklist => w.checklist_title,
    };
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{}_{}.pdf", clean(&file.order.number), clean(title))
}

/// The one entry point of the app and the server: builds the order's file from stored
/// rows `(entity, JSON)` ([`OrderFile::from_rows`]), draws in the signature images
/// `image(sha256)` finds, and renders `doc` ([`render`]).
pub fn render_rows<'a>(
    id: Uuid,
    rows: impl IntoIterator<Item = (onsite_domain::protocol::Entity, &'a str)>,
    mut image: impl FnMut(&str) -> Option<Vec<u8>>,
    doc: Document,
    lang: Lang,
    generated_at: DateTime<Utc>,
) -> Result<Rendered, ReceiptError> {
    let mut file = OrderFile::from_rows(id, rows)?;
    for sha in file.signature_images() {
        if let Some(bytes) = image(&sha) {
            file.images.insert(sha, bytes);
        }
    }
    render(&file, doc, lang, generated_at)
}

/// Lays out `doc` for the order in `file` and writes the PDF. `generated_at` is the
/// PDF's creation date and nothing else: the same file, document and language give the
/// same bytes apart from that date.
pub fn render(
    file: &OrderFile,
    doc: Document,
    lang: Lang,
    generated_at: DateTime<Utc>,
) -> Result<Rendered, ReceiptError> {
    let font_id = FontId("F1".to_owned());
    let mut canvas = Canvas::new(font_id.clone())?;
    let tz = file
        .customer
        .as_ref()
        .and_then(|c| c.time_zone.as_deref())
        .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(chrono_tz::Asia::Shanghai);
    let ctx = Ctx {
        file,
        w: words(lang),
        f: Fmt { lang, tz },
    };
    match doc {
        Document::RepairRecord => docs::repair_record::draw(&ctx, &mut canvas)?,
        Document::FieldServiceRecord => docs::field_service::draw(&ctx, &mut canvas)?,
        Document::Quote => docs::quote::draw_quote(&ctx, &mut canvas)?,
        Document::Settlement => docs::quote::draw_settlement(&ctx, &mut canvas)?,
        Document::ServiceReceipt => docs::service_receipt::draw(&ctx, &mut canvas)?,
        Document::Checklist => docs::checklist::draw(&ctx, &mut canvas)?,
    }
    let page::Finished {
        pages,
        missing,
        images,
    } = canvas.finish();
    let total = pages.len();
    let tz_note = (ctx.w.local_time)(tz.name());
    let mut pdf = PdfDocument::new(&format!(
        "{} {}",
        file.order.number,
        file_name(file, doc, lang).trim_end_matches(".pdf")
    ));
    let stamp =
        printpdf::OffsetDateTime::from_unix_timestamp(generated_at.timestamp()).map_err(|e| {
            ReceiptError::Record {
                entity: "generated_at",
                message: e.to_owned(),
            }
        })?;
    pdf.metadata.info.creation_date = stamp;
    pdf.metadata.info.modification_date = stamp;
    pdf.metadata.info.metadata_date = stamp;
    pdf.metadata.info.producer = "Onsite".to_owned();
    pdf.metadata.info.creator = "Onsite".to_owned();
    pdf.resources.fonts.map.insert(
        font_id.clone(),
        printpdf::PdfFont::new(font::face()?.parsed.clone()),
    );
    for (id, raw) in images {
        pdf.resources.xobjects.map.insert(id, XObject::Image(raw));
    }
    let mut out_pages = Vec::with_capacity(total);
    for (i, mut ops) in pages.into_iter().enumerate() {
        // The footer: page i of n and the time zone the times are in.
        let mut foot = Canvas::new(font_id.clone())?;
        foot.text(MARGIN, PAGE_H - 8.0, 7.5, &tz_note, false);
        let p = (ctx.w.page)(i + 1, total);
        let pw = foot.width(&p, 7.5);
        foot.text(PAGE_W - MARGIN - pw, PAGE_H - 8.0, 7.5, &p, false);
        ops.extend(foot.finish().pages.into_iter().flatten());
        out_pages.push(PdfPage::new(
            printpdf::Mm(PAGE_W),
            printpdf::Mm(PAGE_H),
            ops,
        ));
    }
    pdf.with_pages(out_pages);
    let mut bytes = pdf.save(&PdfSaveOptions::default(), &mut Vec::new());
    stable_id(&mut bytes);
    Ok(Rendered {
        bytes,
        file_name: file_name(file, doc, lang),
        pages: total,
        missing_glyphs: missing.into_iter().collect(),
    })
}

/// printpdf writes a random file identifier into the trailer (`/ID[(…)(…)]`, two
/// 32-character strings); replace both with one derived from the file itself (its
/// creation date left out) so that the same document gives the same bytes on the laptop
/// and on the server.
fn stable_id(bytes: &mut [u8]) {
    let Some(at) = find_last(bytes, b"/ID[(") else {
        return;
    };
    let first = at + 5;
    let second = first + 32 + 2;
    if bytes.len() < second + 32 || bytes.get(first + 32..second) != Some(b")(".as_slice()) {
        return;
    }
    bytes[first..first + 32].fill(b'0');
    bytes[second..second + 32].fill(b'0');
    let digest = Sha256::digest(without_dates(bytes));
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    bytes[first..first + 32].copy_from_slice(hex.as_bytes());
    bytes[second..second + 32].copy_from_slice(hex.as_bytes());
}

/// The PDF with its creation and modification dates blanked: two renderings of the same
/// document at different times are equal this way, byte for byte.
pub fn without_dates(pdf: &[u8]) -> Vec<u8> {
    let mut out = pdf.to_vec();
    for key in [b"/CreationDate(".as_slice(), b"/ModDate(".as_slice()] {
        let mut from = 0;
        while let Some(pos) = out
            .get(from..)
            .and_then(|rest| rest.windows(key.len()).position(|w| w == key))
        {
            let start = from + pos + key.len();
            let end = out
                .get(start..)
                .and_then(|rest| rest.iter().position(|b| *b == b')'))
                .map_or(out.len(), |e| start + e);
            out[start..end].fill(b'0');
            from = end;
        }
    }
    out
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// What every document module draws from.
pub(crate) struct Ctx<'a> {
    pub file: &'a OrderFile,
    pub w: &'static Words,
    pub f: Fmt,
}

impl Ctx<'_> {
    /// The page head of a document.
    pub fn head(&self, title: &str, copy: Option<&str>) -> Head {
        let company = self.file.company.as_ref();
        let name = company
            .map(|c| match self.f.lang {
                Lang::Zh => c.name.clone(),
                Lang::En => c.name_en.clone().unwrap_or_else(|| c.name.clone()),
            })
            .unwrap_or_default();
        let mut line = Vec::new();
        if let Some(c) = company {
            if let Some(a) = &c.address {
                line.push(a.clone());
            }
            if let Some(p) = &c.phone {
                line.push(format!("{} {p}", self.w.phone));
            }
            if let Some(h) = &c.hotline {
                line.push(match self.f.lang {
                    Lang::Zh => format!("服务热线 {h}"),
                    Lang::En => format!("Hotline {h}"),
                });
            }
        }
        Head {
            company: name,
            company_line: line.join("    "),
            title: title.to_owned(),
            number: format!("{} {}", self.w.no, self.file.order.number),
            copy: copy.map(str::to_owned),
            continued: self.w.continued.to_owned(),
        }
    }

    /// The head of the 外出服务记录表: its own number, of the service department's series
    /// (`WorkOrder::service_record_number`), or — printed before the server gave it —
    /// the order's number marked provisional.
    pub fn field_service_head(&self, title: &str) -> Head {
        let mut head = self.head(title, None);
        head.number = match &self.file.order.service_record_number {
            Some(n) => format!("{} {n}", self.w.no),
            None => format!(
                "{} {}",
                self.w.no,
                (self.w.provisional_number)(&self.file.order.number)
            ),
        };
        head
    }

    /// The engineers on the order, the project manager marked.
    pub fn engineers(&self) -> String {
        self.file
            .order
            .assignees
            .iter()
            .filter_map(|a| {
                let name = a.name.clone()?;
                Some(if a.manager {
                    self.f.paren(&name, self.w.manager)
                } else {
                    name
                })
            })
            .collect::<Vec<_>>()
            .join(match self.f.lang {
                Lang::Zh => "、",
                Lang::En => ", ",
            })
    }
}
