//! One module per document, and the blocks they share: the customer and equipment grid,
//! the parts tables, the signature boxes.

pub(crate) mod checklist;
pub(crate) mod field_service;
pub(crate) mod quote;
pub(crate) mod repair_record;
pub(crate) mod service_receipt;

use onsite_domain::money::{Fen, Quantity};
use onsite_domain::records::PartUsage;
use onsite_domain::signature::{DocumentKind, Signature, SignatureState, SignerRole};

use crate::page::{CONTENT_W, Canvas, Cell, MARGIN, line_height};
use crate::{Ctx, Lang, ReceiptError};

/// Body text size, points.
pub(crate) const BODY: f32 = 8.0;
/// Table text size (parts lists), points.
pub(crate) const TABLE: f32 = 7.5;

/// The width of a label column: English labels are longer.
pub(crate) fn label_w(ctx: &Ctx<'_>) -> f32 {
    match ctx.f.lang {
        Lang::Zh => 24.0,
        Lang::En => 31.0,
    }
}

/// Four columns: label, value, label, value.
pub(crate) fn quad(
    ctx: &Ctx<'_>,
    a: &str,
    av: String,
    b: &str,
    bv: String,
) -> (Vec<f32>, Vec<Cell>) {
    let l = label_w(ctx);
    (
        vec![l, CONTENT_W / 2.0 - l, l, CONTENT_W / 2.0 - l],
        vec![Cell::label(a), Cell::new(av), Cell::label(b), Cell::new(bv)],
    )
}

/// A label and one wide value.
pub(crate) fn wide(ctx: &Ctx<'_>, a: &str, av: String) -> (Vec<f32>, Vec<Cell>) {
    let l = label_w(ctx);
    (vec![l, CONTENT_W - l], vec![Cell::label(a), Cell::new(av)])
}

/// Customer and equipment, as every document heads its body.
pub(crate) fn parties(ctx: &Ctx<'_>) -> Vec<(Vec<f32>, Vec<Cell>)> {
    let (w, f, file) = (ctx.w, ctx.f, ctx.file);
    let c = file.customer.as_ref();
    let e = file.equipment.as_ref();
    let s = |v: Option<&String>| v.cloned().unwrap_or_default();
    vec![
        quad(
            ctx,
            w.customer,
            c.map(|c| c.name.clone()).unwrap_or_default(),
            w.contact,
            c.map(|c| c.contact.clone()).unwrap_or_default(),
        ),
        quad(
            ctx,
            w.address,
            c.map(|c| c.address.clone()).unwrap_or_default(),
            w.phone,
            c.map(|c| c.phone.clone()).unwrap_or_default(),
        ),
        quad(
            ctx,
            w.model,
            e.map(|e| e.model.clone()).unwrap_or_default(),
            w.serial,
            e.map(|e| e.serial.clone()).unwrap_or_default(),
        ),
        quad(
            ctx,
            w.purchased,
            f.day(e.and_then(|e| e.purchased_on)),
            w.invoice,
            s(e.and_then(|e| e.invoice_number.as_ref())),
        ),
    ]
}

/// A part usage as its catalogue knows it: number, name, unit.
pub(crate) fn part_names(ctx: &Ctx<'_>, u: &PartUsage) -> (String, String, String) {
    match ctx.file.part(u.part_id) {
        Some(p) => (p.part_number.clone(), p.name.clone(), p.unit.clone()),
        None => (String::new(), u.part_id.to_string(), String::new()),
    }
}

/// The unit price a part usage is charged at: the one recorded with it, else the list.
pub(crate) fn unit_price(ctx: &Ctx<'_>, u: &PartUsage) -> Fen {
    u.unit_price
        .or_else(|| ctx.file.part(u.part_id).map(|p| p.unit_price))
        .unwrap_or(Fen::ZERO)
}

/// The warranty parts table (no prices) and the purchased parts table (unit price,
/// amount, total). Returns the purchased total.
pub(crate) fn parts_tables(ctx: &Ctx<'_>, c: &mut Canvas) -> Fen {
    let (w, f) = (ctx.w, ctx.f);
    let warranty: Vec<&PartUsage> = ctx.file.part_usages.iter().filter(|u| u.warranty).collect();
    let bought: Vec<&PartUsage> = ctx
        .file
        .part_usages
        .iter()
        .filter(|u| !u.warranty)
        .collect();

    c.heading(w.warranty_parts);
    let widths = [
        10.0,
        34.0,
        CONTENT_W - 10.0 - 34.0 - 16.0 - 14.0 - 30.0,
        16.0,
        14.0,
        30.0,
    ];
    let header = [
        Cell::label(w.seq),
        Cell::label(w.part_no),
        Cell::label(w.name),
        Cell::label(w.quantity),
        Cell::label(w.unit),
        Cell::label(w.old_part),
    ];
    let rows: Vec<Vec<Cell>> = if warranty.is_empty() {
        vec![vec![
            Cell::center("—"),
            Cell::new(w.none),
            Cell::new(""),
            Cell::new(""),
            Cell::new(""),
            Cell::new(""),
        ]]
    } else {
        warranty
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let (no, name, unit) = part_names(ctx, u);
                vec![
                    Cell::center((i + 1).to_string()),
                    Cell::new(no),
                    Cell::new(name),
                    Cell::right(u.quantity.to_string()),
                    Cell::center(unit),
                    Cell::new(f.old_part(u.old_part)),
                ]
            })
            .collect()
    };
    c.table(&widths, &header, &rows, TABLE);

    c.heading(w.purchased_parts);
    let widths = [
        10.0,
        34.0,
        CONTENT_W - 10.0 - 34.0 - 14.0 - 12.0 - 26.0 - 28.0,
        14.0,
        12.0,
        26.0,
        28.0,
    ];
    let header = [
        Cell::label(w.seq),
        Cell::label(w.part_no),
        Cell::label(w.name),
        Cell::label(w.quantity),
        Cell::label(w.unit),
        Cell::label(w.unit_price),
        Cell::label(w.amount),
    ];
    let mut total = Fen::ZERO;
    let mut rows: Vec<Vec<Cell>> = bought
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let (no, name, unit) = part_names(ctx, u);
            let price = unit_price(ctx, u);
            let amount = price.times(Quantity::whole(u64::from(u.quantity)));
            total += amount;
            vec![
                Cell::center((i + 1).to_string()),
                Cell::new(no),
                Cell::new(name),
                Cell::right(u.quantity.to_string()),
                Cell::center(unit),
                Cell::right(f.money(price)),
                Cell::right(f.money(amount)),
            ]
        })
        .collect();
    if rows.is_empty() {
        rows.push(vec![
            Cell::center("—"),
            Cell::new(w.none),
            Cell::new(""),
            Cell::new(""),
            Cell::new(""),
            Cell::new(""),
            Cell::new(""),
        ]);
    }
    rows.push(vec![
        Cell::label(""),
        Cell::label(w.total).bold(),
        Cell::label(""),
        Cell::label(""),
        Cell::label(""),
        Cell::label(""),
        Cell::right(f.money(total)).bold(),
    ]);
    c.table(&widths, &header, &rows, TABLE);
    total
}

/// The latest signature of `role` on document `kind` (for one quote: `document_id`).
pub(crate) fn signature<'a>(
    ctx: &'a Ctx<'_>,
    kind: DocumentKind,
    role: SignerRole,
    document_id: Option<uuid::Uuid>,
) -> Option<&'a Signature> {
    ctx.file
        .signatures
        .iter()
        .filter(|s| s.document == kind && s.signer_role == role)
        .filter(|s| document_id.is_none() || s.document_id == document_id)
        .max_by_key(|s| (s.signed_at, s.id))
}

/// Signature boxes side by side (customer, engineer…), each with the image drawn in, the
/// signer and time under it, and below all of them one line per signature saying what
/// was signed and when — in red when the document changed after signing.
/// `current_hash` is the document's content hash now, when the domain defines one.
pub(crate) fn signature_boxes(
    ctx: &Ctx<'_>,
    c: &mut Canvas,
    kind: DocumentKind,
    document_id: Option<uuid::Uuid>,
    boxes: &[(&str, SignerRole)],
    current_hash: Option<&str>,
) -> Result<(), ReceiptError> {
    let (w, f) = (ctx.w, ctx.f);
    let box_h = 20.0;
    let lines = boxes.len() as f32 * line_height(7.5) * 2.0;
    c.ensure(box_h + lines + 4.0);
    c.gap(2.0);
    let top = c.y;
    let bw = CONTENT_W / boxes.len().max(1) as f32;
    let mut notes: Vec<(String, bool)> = Vec::new();
    for (i, (label, role)) in boxes.iter().enumerate() {
        let x = MARGIN + bw * i as f32;
        c.rect(x, top, bw, box_h, false);
        c.text(x + 1.5, top + 4.0, BODY, label, true);
        match signature(ctx, kind, *role, document_id) {
            Some(sig) => {
                match ctx.file.images.get(&sig.sha256) {
                    Some(png) => c.image(png, x + 2.0, top + 4.6, bw - 4.0, box_h - 9.0)?,
                    None => c.warn(x + 3.0, top + 12.0, 7.5, w.image_missing),
                }
                c.text(
                    x + 1.5,
                    top + box_h - 2.0,
                    7.5,
                    &format!(
                        "{}    {} {}",
                        sig.signer_name,
                        w.date,
                        f.time(sig.signed_at)
                    ),
                    false,
                );
                let hash: String = sig.document_hash.chars().take(12).collect();
                notes.push((
                    (w.signed)(
                        f.document(kind),
                        &hash,
                        &sig.signer_name,
                        &f.time(sig.signed_at),
                    ),
                    false,
                ));
                if let Some(now) = current_hash
                    && sig.state_for(now) == SignatureState::Invalidated
                {
                    notes.push((format!("{}: {}", sig.signer_name, w.invalidated), true));
                }
            }
            None => {
                c.text(
                    x + 1.5,
                    top + box_h - 2.0,
                    7.5,
                    &format!("{}    {}", w.not_signed, w.date),
                    false,
                );
            }
        }
    }
    c.y = top + box_h;
    for (note, red) in notes {
        let lh = line_height(7.5);
        for line in c.wrap(&note, CONTENT_W, 7.5) {
            c.ensure(lh);
            c.y += lh;
            if red {
                c.warn(MARGIN, c.y - lh * 0.25, 7.5, &line);
            } else {
                c.text(MARGIN, c.y - lh * 0.25, 7.5, &line, false);
            }
        }
    }
    Ok(())
}
