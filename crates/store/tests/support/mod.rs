//! Builders shared by the store's tests and benchmark: a store in a temporary folder,
//! filled the way real data arrives (pulled changes), from the domain's demo generator.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use onsite_domain::demo::{self, DemoData, DemoSize};
use onsite_domain::records::VanStock;
use onsite_domain::{Change, Entity, Hlc};
use onsite_store::{OpenOptions, Store};
use serde_json::value::RawValue;
use tempfile::TempDir;
use uuid::Uuid;

pub const DEVICE: &str = "0192f0c4-0000-7000-8000-00000000d001";

/// The fixed "now" of the tests: a Sunday morning in November 2026, UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
        .single()
        .expect("valid time")
}

/// A server stamp `ms_before` milliseconds before the test's now.
pub fn server_hlc(ms_before: i64) -> Hlc {
    let ms = u64::try_from(now().timestamp_millis() - ms_before).expect("positive");
    Hlc::new(ms, 0, "server").expect("valid")
}

pub struct World {
    pub dir: TempDir,
    pub store: Store,
    pub data: DemoData,
    pub engineer: Uuid,
}

impl World {
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("onsite.db")
    }
}

pub fn open(dir: &TempDir) -> Store {
    Store::open(
        dir.path().join("onsite.db"),
        &OpenOptions {
            device_id: DEVICE.into(),
            key: None,
        },
    )
    .expect("store opens")
}

pub fn size(orders: usize) -> DemoSize {
    DemoSize {
        customers: (orders / 10).clamp(5, 300),
        equipment: (orders / 4).clamp(10, 2500),
        orders,
        checklist_items_per_order: 20,
        part_usages_per_order: 5,
    }
}

/// Every record of `data` as pulled changes, reference data first.
pub fn changes(data: &DemoData, engineer: Uuid) -> Vec<Change> {
    let hlc = server_hlc(3_600_000);
    let mut seq = 0;
    let mut out = Vec::new();
    let mut put = |entity: Entity, value: serde_json::Value| {
        seq += 1;
        out.push(Change::put_record(seq, entity, &value, &hlc).expect("record serialises"));
    };
    let v = |x: &dyn erased::Ser| x.value();
    for p in &data.parts {
        put(Entity::Part, v(p));
        let stock = VanStock {
            id: Uuid::from_u64_pair(7, p.id.as_u64_pair().1),
            engineer_id: engineer,
            part_id: p.id,
            quantity: 10,
        };
        put(Entity::VanStock, v(&stock));
    }
    for c in &data.customers {
        put(Entity::Customer, v(c));
    }
    for e in &data.equipment {
        put(Entity::Equipment, v(e));
    }
    for o in &data.orders {
        put(Entity::WorkOrder, v(o));
    }
    for i in &data.checklist_items {
        put(Entity::ChecklistItem, v(i));
    }
    for p in &data.part_usages {
        put(Entity::PartUsage, v(p));
    }
    out
}

/// Changes as the JSON text they travel as (what [`Store::apply_pull_raw`] takes).
pub fn raw(changes: &[Change]) -> Vec<Box<RawValue>> {
    changes
        .iter()
        .map(|c| {
            RawValue::from_string(serde_json::to_string(c).expect("a change serialises"))
                .expect("valid JSON")
        })
        .collect()
}

/// Tiny object-safe serialisation, so one closure takes every record type.
pub mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("records serialise")
        }
    }
}

/// A store holding `orders` generated orders, applied in pages of 5000 like a first sync.
pub fn world(orders: usize) -> World {
    world_timed(orders).0
}

/// [`world`], with the time spent applying the pulled pages (what a first sync spends in
/// the store, without generating the data).
pub fn world_timed(orders: usize) -> (World, std::time::Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(&dir);
    let engineer = Uuid::from_u128(0xE1);
    let data = demo::generate(42, size(orders), engineer, now());
    let all = changes(&data, engineer);
    // As the sync engine receives them: each change as its JSON text.
    let page_size = std::env::var("ONSITE_BENCH_PAGE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let pages: Vec<Vec<Box<RawValue>>> = all.chunks(page_size).map(raw).collect();
    let started = std::time::Instant::now();
    for (i, page) in pages.iter().enumerate() {
        store
            .apply_pull_raw(page, &format!("c{i}"), now(), now())
            .expect("page applies");
    }
    store.checkpoint().expect("checkpoints");
    let applied = started.elapsed();
    (
        World {
            dir,
            store,
            data,
            engineer,
        },
        applied,
    )
}

/// `changes` (puts) as the text of a server snapshot (`GET /v1/sync/snapshot`) taken at
/// `cursor`, with its trailer.
pub fn snapshot_text(changes: &[Change], cursor: &str) -> String {
    let mut out = format!(
        "{}\t{cursor}\t{}\n",
        onsite_domain::protocol::SNAPSHOT_MAGIC,
        now().to_rfc3339()
    );
    for c in changes {
        let mut row = c.row.clone().expect("a put");
        let clocks = row
            .remove(onsite_domain::protocol::CLOCKS_KEY)
            .unwrap_or_else(|| serde_json::json!({}));
        let owner = if c.entity == onsite_domain::Entity::WorkOrder {
            c.id.to_string()
        } else {
            row.get("work_order_id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        out.push_str(&format!(
            "{}\t{}\t{owner}\t{}\t{}\n",
            c.entity,
            c.id,
            serde_json::Value::Object(row),
            clocks
        ));
    }
    out.push_str(&format!("end\t{}\n", changes.len()));
    out
}
