//! 服务回执单: the handover — the work done, what is still open and by when, the parts
//! and documents left with the customer, and the customer's stamp or signature.

use onsite_domain::records::OldPartDisposition;
use onsite_domain::signature::{DocumentKind, SignerRole};

use super::{BODY, part_names, quad, signature_boxes, wide};
use crate::page::{CONTENT_W, Canvas, Cell};
use crate::{Ctx, Lang, ReceiptError};

pub(crate) fn draw(ctx: &Ctx<'_>, c: &mut Canvas) -> Result<(), ReceiptError> {
    let (w, f, file) = (ctx.w, ctx.f, ctx.file);
    let o = &file.order;
    c.start(ctx.head(w.receipt_title, None));
    let mut rows = super::parties(ctx);
    rows.push(quad(
        ctx,
        w.service_type,
        f.service_type(o.service_type).to_owned(),
        w.engineer,
        ctx.engineers(),
    ));
    c.grid(&rows, BODY);

    c.heading(w.work_done);
    let mut done: Vec<(String, String)> = file
        .log_entries
        .iter()
        .map(|l| {
            let mut t = l.text.clone();
            if let Some(p) = l.progress.as_deref().filter(|p| !p.trim().is_empty()) {
                t.push_str(match f.lang {
                    Lang::Zh => "；进度：",
                    Lang::En => "; progress: ",
                });
                t.push_str(p);
            }
            (l.day.format("%Y-%m-%d").to_string(), t)
        })
        .collect();
    if let Some(r) = o.repair_result.as_deref().filter(|r| !r.trim().is_empty()) {
        done.push((f.opt_time(o.repair_ended_at), r.to_owned()));
    }
    let widths = [30.0, CONTENT_W - 30.0];
    let rows = lines_or_none(
        ctx,
        done,
        |(day, text)| vec![Cell::new(day), Cell::new(text)],
        2,
    );
    c.table(
        &widths,
        &[Cell::label(w.log_day), Cell::label(w.work_done)],
        &rows,
        BODY,
    );

    c.heading(w.open_items);
    let mut open: Vec<(String, String)> = Vec::new();
    for l in &file.log_entries {
        let day = l.day.format("%Y-%m-%d").to_string();
        if let Some(p) = l.open_problems.as_deref().filter(|p| !p.trim().is_empty()) {
            open.push((p.to_owned(), day.clone()));
        }
        if let Some(p) = l.next_plan.as_deref().filter(|p| !p.trim().is_empty()) {
            open.push((p.to_owned(), day));
        }
    }
    for fu in file.follow_ups.iter().filter(|fu| fu.done_at.is_none()) {
        open.push((f.follow_up(fu.kind).to_owned(), f.time(fu.due_at)));
    }
    let widths = [10.0, CONTENT_W - 10.0 - 36.0, 36.0];
    let rows = lines_or_none(
        ctx,
        open.into_iter().enumerate().collect(),
        |(i, (text, due))| {
            vec![
                Cell::center((i + 1).to_string()),
                Cell::new(text),
                Cell::new(due),
            ]
        },
        3,
    );
    c.table(
        &widths,
        &[
            Cell::label(w.seq),
            Cell::label(w.description),
            Cell::label(w.due),
        ],
        &rows,
        BODY,
    );

    c.heading(w.handed_parts);
    let mut handed: Vec<(String, String, String)> = Vec::new();
    for u in &file.part_usages {
        let (_, name, unit) = part_names(ctx, u);
        let qty = format!("{} {unit}", u.quantity);
        handed.push((
            name.clone(),
            qty.clone(),
            match f.lang {
                Lang::Zh => "新件，已安装".to_owned(),
                Lang::En => "New, installed".to_owned(),
            },
        ));
        if u.old_part == Some(OldPartDisposition::CustomerKeeps) {
            handed.push((
                name,
                qty,
                match f.lang {
                    Lang::Zh => "旧件，客户留存".to_owned(),
                    Lang::En => "Old part, kept by the customer".to_owned(),
                },
            ));
        }
    }
    let widths = [10.0, CONTENT_W - 10.0 - 24.0 - 50.0, 24.0, 50.0];
    let rows = lines_or_none(
        ctx,
        handed.into_iter().enumerate().collect(),
        |(i, (name, qty, note))| {
            vec![
                Cell::center((i + 1).to_string()),
                Cell::new(name),
                Cell::right(qty),
                Cell::new(note),
            ]
        },
        4,
    );
    c.table(
        &widths,
        &[
            Cell::label(w.seq),
            Cell::label(w.name),
            Cell::label(w.quantity),
            Cell::label(w.description),
        ],
        &rows,
        BODY,
    );

    let mut docs = vec![f.paren(w.repair_title, w.copies[2])];
    docs.push(w.field_title.to_owned());
    if !file.quotes.is_empty() {
        docs.push(w.quote_title.to_owned());
    }
    if !file.settlements.is_empty() {
        docs.push(w.settlement_title.to_owned());
    }
    let sep = match f.lang {
        Lang::Zh => "、",
        Lang::En => "; ",
    };
    c.gap(2.0);
    c.grid(&[wide(ctx, w.handed_docs, docs.join(sep))], BODY);

    signature_boxes(
        ctx,
        c,
        DocumentKind::ServiceReceipt,
        None,
        &[
            (w.stamp, SignerRole::Customer),
            (w.engineer_signature, SignerRole::Engineer),
        ],
        onsite_domain::completion::service_receipt_hash(&ctx.file.order, &ctx.file.part_usages)
            .ok()
            .as_deref(),
    )
}

/// Table rows for `items`, or one row saying there is nothing.
fn lines_or_none<T>(
    ctx: &Ctx<'_>,
    items: Vec<T>,
    row: impl Fn(T) -> Vec<Cell>,
    columns: usize,
) -> Vec<Vec<Cell>> {
    if items.is_empty() {
        let mut r = vec![Cell::new(ctx.w.none)];
        r.extend((1..columns).map(|_| Cell::new("")));
        return vec![r];
    }
    items.into_iter().map(row).collect()
}
