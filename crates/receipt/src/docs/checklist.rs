//! 现场点检表: the order's checklist as answered on site, safety items first — each
//! item's limits, the answer, its note, who checked it and who cross-checked it. A failed
//! item and a measurement outside its limits are printed in red, as the screen shows
//! them (`ChecklistItem::state`).

use onsite_domain::checklist::{Answer, ChecklistItem, ItemKind, ItemState};
use uuid::Uuid;

use super::{BODY, TABLE, parties};
use crate::page::{CONTENT_W, Canvas, Cell};
use crate::{Ctx, ReceiptError};

pub(crate) fn draw(ctx: &Ctx<'_>, c: &mut Canvas) -> Result<(), ReceiptError> {
    let (w, f, file) = (ctx.w, ctx.f, ctx.file);
    c.start(ctx.head(w.checklist_title, None));
    c.grid(&parties(ctx), BODY);
    let items = &file.checklist;
    if items.is_empty() {
        c.heading(w.no_checklist);
        return Ok(());
    }
    let count = |s: ItemState| items.iter().filter(|i| i.state() == s).count();
    let (failed, open) = (count(ItemState::Failed), count(ItemState::Open));
    c.heading(&(w.checklist_summary)(
        items.len() - open,
        items.len(),
        failed,
        open,
    ));
    let widths = [
        10.0,
        50.0,
        22.0,
        28.0,
        CONTENT_W - 10.0 - 50.0 - 22.0 - 28.0 - 34.0,
        34.0,
    ];
    let header = [
        Cell::label(w.seq),
        Cell::label(w.check_item),
        Cell::label(w.limits),
        Cell::label(w.answer),
        Cell::label(w.note),
        Cell::label(w.checked_by),
    ];
    let rows: Vec<Vec<Cell>> = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            let failed = item.state() == ItemState::Failed;
            let mut label = item.label.clone();
            let tags: Vec<&str> = [(item.safety, w.safety), (item.required, w.required)]
                .into_iter()
                .filter_map(|(on, tag)| on.then_some(tag))
                .collect();
            if !tags.is_empty() {
                label = format!("{label}\n[{}]", tags.join(" · "));
            }
            let mut checked = name(ctx, item.answered_by)
                .map(|who| match item.answered_at {
                    Some(at) => format!("{who} {}", f.time(at)),
                    None => who,
                })
                .unwrap_or_default();
            if let Some(cross) = name(ctx, item.cross_checked_by) {
                checked = format!("{checked}\n{}：{cross}", w.cross_checked);
            }
            vec![
                Cell::center((n + 1).to_string()),
                Cell::new(label),
                Cell::new(limits(&item.kind)),
                Cell::new(result(ctx, item)).warn_if(failed),
                Cell::new(item.note.clone().unwrap_or_default()),
                Cell::new(checked),
            ]
        })
        .collect();
    c.table(&widths, &header, &rows, TABLE);
    Ok(())
}

/// A measurement's limits and unit: `≥ 0.5 MΩ`, `≤ 4 Ω`, `0.5–4 Ω`.
fn limits(kind: &ItemKind) -> String {
    match kind {
        ItemKind::Measured { unit, min, max } => match (min, max) {
            (Some(a), Some(b)) => format!("{a}–{b} {unit}"),
            (Some(a), None) => format!("≥ {a} {unit}"),
            (None, Some(b)) => format!("≤ {b} {unit}"),
            (None, None) => unit.clone(),
        },
        _ => String::new(),
    }
}

/// The answer as printed; a measurement outside its limits says so.
fn result(ctx: &Ctx<'_>, item: &ChecklistItem) -> String {
    let w = ctx.w;
    match (&item.answer, &item.kind) {
        (None, _) => w.open.to_owned(),
        (Some(Answer::Pass), _) => w.pass.to_owned(),
        (Some(Answer::Fail), _) => w.fail.to_owned(),
        (Some(Answer::Value(v)), ItemKind::Measured { unit, .. }) => {
            if item.state() == ItemState::Failed {
                format!("{v} {unit}\n{}", w.out_of_limits)
            } else {
                format!("{v} {unit}")
            }
        }
        (Some(Answer::Value(v)), _) => v.to_string(),
        (Some(Answer::Text(t)), _) => t.clone(),
        (Some(Answer::Photo(_)), _) => w.photo_taken.to_owned(),
    }
}

/// An engineer of the order by name (the assignment's), else nothing.
fn name(ctx: &Ctx<'_>, id: Option<Uuid>) -> Option<String> {
    let id = id?;
    ctx.file
        .order
        .assignees
        .iter()
        .find(|a| a.engineer_id == id)
        .and_then(|a| a.name.clone())
}
