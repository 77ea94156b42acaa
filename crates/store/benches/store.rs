//! The local store's benchmark: a store with 10,000 work orders (20 checklist items and
//! 5 part usages each), and the medians of what the engineer waits for.
//! Run with `cargo xtask bench` (or `cargo bench -p onsite-store --bench store`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use chrono::Duration as Span;
use onsite_domain::demo::Rng;
use onsite_domain::{Change, Entity, Hlc};
use onsite_store::Page;
use serde_json::json;
use support::{now, open};

/// The size; `ONSITE_BENCH_ORDERS` scales it down for a quick look.
fn orders() -> usize {
    std::env::var("ONSITE_BENCH_ORDERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn line(name: &str, d: Duration, n: usize, target: Option<Duration>) {
    let verdict = match target {
        Some(t) if d <= t => format!("target < {} ✓", ms(t)),
        Some(t) => format!("target < {} ✗ MISSED", ms(t)),
        None => String::new(),
    };
    println!("{name:<46} median {:>12}  (n={n:<4}) {verdict}", ms(d));
}

fn main() {
    let started = Instant::now();
    let (w, applied) = support::world_timed(orders());
    let build = started.elapsed();
    let rows = w.data.orders.len() + w.data.checklist_items.len() + w.data.part_usages.len();
    println!(
        "onsite-store benchmark: {} work orders, {} checklist items, {} part usages ({rows} rows with FTS)",
        w.data.orders.len(),
        w.data.checklist_items.len(),
        w.data.part_usages.len()
    );
    println!(
        "{:<46} total  {:>12}  (generate, then apply as pulled pages of 5000)",
        "build the store",
        ms(build)
    );
    println!(
        "{:<46} total  {:>12}  (apply {rows} pulled rows + checkpoint: a first sync's share in the store)",
        "  of which first-sync apply",
        ms(applied)
    );
    if std::env::var_os("ONSITE_BENCH_BUILD_ONLY").is_some() {
        snapshot_first_sync(&w.data, w.engineer);
        return;
    }
    let path = w.path();
    let support::World {
        dir,
        store,
        data,
        engineer,
    } = w;
    store.close().expect("closes");
    println!(
        "{:<46}        {:>9.1} MB",
        "database size",
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );

    let mut samples = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        let s = open(&dir);
        samples.push(t.elapsed());
        s.close().expect("closes");
    }
    line(
        "open (quick_check, migrations, clock)",
        median(samples),
        11,
        None,
    );

    let mut store = open(&dir);
    let mut samples = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let page = store
            .open_work_orders(
                None,
                Page {
                    offset: 0,
                    limit: 50,
                },
            )
            .expect("lists");
        samples.push(t.elapsed());
        assert_eq!(page.len(), 50);
    }
    line(
        "urgency list, first page of 50",
        median(samples),
        300,
        Some(Duration::from_millis(1)),
    );

    for (what, q) in [
        ("search 3-char Chinese substring, common", "过流故"),
        ("search 3-char Chinese substring, rare", "瓯江电"),
    ] {
        let mut samples = Vec::new();
        let mut hits = 0;
        for _ in 0..300 {
            let t = Instant::now();
            hits = store.search(q, 50).expect("searches").len();
            samples.push(t.elapsed());
        }
        assert!(hits > 0, "{q} is in the data");
        line(
            &format!("{what} ({q}, {hits} shown)"),
            median(samples),
            300,
            Some(Duration::from_millis(2)),
        );
    }

    let mut rng = Rng::new(9);
    let mut samples = Vec::new();
    for _ in 0..300 {
        let id = rng.pick(&data.orders).id;
        let t = Instant::now();
        let d = store.work_order(id).expect("loads");
        samples.push(t.elapsed());
        assert_eq!(d.checklist.len(), 20);
    }
    line(
        "load one order with everything under it",
        median(samples),
        300,
        Some(Duration::from_millis(1)),
    );

    // 100 local edits waiting to be sent, so that the pull has something to rebase (on
    // orders still open: a completed order's findings are final).
    let open_orders = data.orders.iter().filter(|o| {
        !matches!(
            o.status,
            onsite_domain::Status::Completed
                | onsite_domain::Status::Closed
                | onsite_domain::Status::Cancelled
        )
    });
    for o in open_orders.take(100) {
        let serde_json::Value::Object(f) = json!({"diagnosis": "现场确认：轴承磨损"})
        else {
            unreachable!("object")
        };
        store
            .update(Entity::WorkOrder, o.id, f, now())
            .expect("saves");
    }
    // Four kinds of pull, 10,000 changes each, so that each cost shows on its own:
    // checklist answers (the most numerous records), a new schedule on every order, a new
    // status on every order (the list's sort key moves), and new fault text on every order
    // (the search index is rewritten).
    let rounds: i64 = std::env::var("ONSITE_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let kinds = [
        "checklist answers",
        "order schedule",
        "order status",
        "order fault text (search re-indexed)",
    ];
    let mut clock = 0i64;
    let only = std::env::var("ONSITE_BENCH_ONLY").ok();
    for (k, what) in kinds.iter().enumerate() {
        if only.as_deref().is_some_and(|o| !what.contains(o)) {
            continue;
        }
        let mut samples = Vec::new();
        let mut checkpoints = Vec::new();
        for round in 1..=rounds {
            clock += 1;
            let hlc = Hlc::new(
                u64::try_from((now() + Span::minutes(clock)).timestamp_millis()).expect("positive"),
                0,
                "server",
            )
            .expect("valid");
            let seq = |i: usize| 1_000_000 * clock + i as i64;
            let changes: Vec<Change> = match k {
                0 => data
                    .checklist_items
                    .iter()
                    .step_by(data.checklist_items.len() / data.orders.len())
                    .enumerate()
                    .map(|(i, item)| {
                        let mut item = item.clone();
                        item.answer = Some(onsite_domain::checklist::Answer::Pass);
                        item.note = Some(format!("第{round}次复查正常"));
                        Change::put_record(seq(i), Entity::ChecklistItem, &item, &hlc)
                            .expect("serialises")
                    })
                    .collect(),
                _ => data
                    .orders
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        let mut o = o.clone();
                        match k {
                            1 => o.scheduled_at = Some(now() + Span::hours(round)),
                            2 if round % 2 == 1 => {
                                o.status = if o.status.is_finished() {
                                    onsite_domain::Status::Closed
                                } else {
                                    onsite_domain::Status::Postponed
                                }
                            }
                            2 => {}
                            _ => {
                                o.fault_description =
                                    format!("{}（第{round}次补充）", o.fault_description)
                            }
                        }
                        Change::put_record(seq(i), Entity::WorkOrder, &o, &hlc).expect("serialises")
                    })
                    .collect(),
            };
            let count = changes.len();
            let pages: Vec<Vec<Change>> = changes.chunks(1000).map(<[Change]>::to_vec).collect();
            let t = Instant::now();
            for (p, page) in pages.into_iter().enumerate() {
                store
                    .apply_pull(page, &format!("k{k}r{round}p{p}"), now(), now())
                    .expect("applies");
            }
            samples.push(t.elapsed());
            assert_eq!(count, data.orders.len());
            let t = Instant::now();
            store.checkpoint().expect("checkpoints");
            checkpoints.push(t.elapsed());
        }
        let n = samples.len();
        line(
            &format!("apply {} pulled changes: {what}", data.orders.len()),
            median(samples),
            n,
            Some(Duration::from_millis(250)),
        );
        line(
            "  then the WAL checkpoint (run when sync is idle)",
            median(checkpoints),
            n,
            None,
        );
    }
    println!("(100 of the changed orders had pending local edits, replayed on top)");
    snapshot_first_sync(&data, engineer);
    if let Some(keep) = std::env::var_os("ONSITE_BENCH_KEEP") {
        store.close().expect("closes");
        std::fs::copy(&path, &keep).expect("keeps a copy of the benchmark database");
    }
}

/// The same rows as a server snapshot, written into a new file and put in place (a first
/// sync through `GET /v1/sync/snapshot`), on a plain store and on an encrypted one (the
/// app's: SQLCipher), with what the engineer then waits for on each. Run last: its 150 MB
/// of writes would otherwise still be draining to disk while the other figures are taken.
fn snapshot_first_sync(data: &onsite_domain::demo::DemoData, engineer: uuid::Uuid) {
    let all = support::changes(data, engineer);
    let text = support::snapshot_text(&all, "1");
    let mut figures = Vec::new();
    for key in [None, Some(onsite_store::DbKey::from_bytes([0x42; 32]))] {
        let encrypted = key.is_some();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut fresh = onsite_store::Store::open(
            dir.path().join("onsite.db"),
            &onsite_store::OpenOptions {
                device_id: support::DEVICE.into(),
                key,
            },
        )
        .expect("opens");
        let t = Instant::now();
        let mut boot = fresh.begin_bootstrap().expect("starts");
        for piece in text.as_bytes().chunks(256 * 1024) {
            boot.feed(piece).expect("takes the bytes");
        }
        let fed = t.elapsed();
        fresh
            .finish_bootstrap(boot, now())
            .expect("puts it in place")
            .expect("the store was empty");
        let first_sync = t.elapsed();
        println!(
            "{:<46} total  {:>12}  ({:.1} MB snapshot: rows {}, then list, search, flush, rename {})",
            if encrypted {
                "  the same, encrypted (SQLCipher, the app's)"
            } else {
                "  the same as a snapshot (first sync)"
            },
            ms(first_sync),
            text.len() as f64 / 1e6,
            ms(fed),
            ms(first_sync - fed)
        );
        let mut list = Vec::new();
        let mut search = Vec::new();
        let mut write = Vec::new();
        let order = data
            .orders
            .iter()
            .find(|o| o.status == onsite_domain::Status::OnSite)
            .or(data.orders.first())
            .expect("orders")
            .id;
        for i in 0..101 {
            let t = Instant::now();
            let page = fresh
                .open_work_orders(None, Page::default())
                .expect("lists");
            list.push(t.elapsed());
            assert!(!page.is_empty());
            let t = Instant::now();
            let _ = fresh.search("过流故", 50).expect("searches");
            search.push(t.elapsed());
            let t = Instant::now();
            fresh
                .update(
                    Entity::WorkOrder,
                    order,
                    serde_json::Map::from_iter([(
                        "diagnosis".to_owned(),
                        json!(format!("写入 {i}")),
                    )]),
                    now(),
                )
                .expect("writes");
            write.push(t.elapsed());
        }
        // A 4 MB photo kept (durable: written, synced, renamed) and read back (checked
        // against its hash): sealed and opened with XChaCha20-Poly1305 when encrypted.
        let mut keep = Vec::new();
        let mut read = Vec::new();
        let mut photo: Vec<u8> = (0..4_000_000u32).map(|i| (i % 253) as u8).collect();
        for i in 0..21u32 {
            photo[..4].copy_from_slice(&i.to_le_bytes());
            let t = Instant::now();
            let sha = fresh.put_blob(&photo).expect("keeps the photo");
            keep.push(t.elapsed());
            let t = Instant::now();
            let back = fresh.blob(&sha).expect("reads the photo");
            read.push(t.elapsed());
            assert_eq!(back.map(|b| b.len()), Some(photo.len()));
        }
        figures.push((
            first_sync,
            median(list),
            median(search),
            median(write),
            median(keep),
            median(read),
        ));
    }
    if let [plain, encrypted] = figures[..] {
        let cost = |p: Duration, e: Duration| {
            format!(
                "{} -> {} ({:+.0} %)",
                ms(p),
                ms(e),
                (e.as_secs_f64() / p.as_secs_f64().max(1e-9) - 1.0) * 100.0
            )
        };
        println!(
            "encryption at rest (SQLCipher; photo files XChaCha20-Poly1305), plain -> encrypted:"
        );
        println!(
            "  {:<44} {}",
            "first sync from the snapshot",
            cost(plain.0, encrypted.0)
        );
        println!(
            "  {:<44} {}  target < 1.000 ms {}",
            "urgency list, first page of 50",
            cost(plain.1, encrypted.1),
            if encrypted.1 <= Duration::from_millis(1) {
                "✓"
            } else {
                "✗ MISSED"
            }
        );
        println!(
            "  {:<44} {}",
            "search 3-char Chinese substring, common",
            cost(plain.2, encrypted.2)
        );
        println!(
            "  {:<44} {}",
            "one edit, durable (synchronous = FULL)",
            cost(plain.3, encrypted.3)
        );
        println!(
            "  {:<44} {}",
            "keep a 4 MB photo, durable",
            cost(plain.4, encrypted.4)
        );
        println!(
            "  {:<44} {}",
            "read a 4 MB photo back, hash checked",
            cost(plain.5, encrypted.5)
        );
    }
}
