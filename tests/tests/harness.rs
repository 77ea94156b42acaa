//! The fault-injection harness: several simulated engineers, each a real `sync-client` and
//! a real `store`, make random edits, transitions and log entries, online and offline,
//! through a misbehaving TCP proxy each, against the real server binary, which is killed
//! with SIGKILL and restarted at random moments; a dispatcher moves orders between them;
//! their clocks are hours or days off. After the network heals:
//!
//! - every laptop has sent everything (nothing pending);
//! - every laptop shows exactly the server's view of its scope (apart from work the
//!   server quarantined, which the laptop keeps showing as such);
//! - every operation a laptop made has one answer on the server: replaying all of them
//!   changes nothing, and each one not applied is shown to the engineer as an outcome.
//!
//! Seeded and reproducible: a failing seed is printed; `cargo xtask soak --seed 17`
//! reruns it, and `cargo xtask soak --seeds N` runs seeds 1..=N.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use onsite_domain::Status;
use onsite_domain::demo::{DemoSize, Rng, generate};
use onsite_domain::protocol::{ChangeOp, Entity, Op, OpStatus};
use onsite_domain::records::{Attachment, LogEntry};
use onsite_domain::work_order::{Role, next_statuses};
use onsite_store::{OpenOptions, Page, Store};
use onsite_sync_client::{Client, Config, SharedStore, sync_once};
use onsite_sync_server::sqlite::SqliteStorage;
use onsite_sync_server::storage::Storage;
use onsite_tests::process::ServerProcess;
use onsite_tests::proxy::{Fault, FaultProxy};
use onsite_tests::{PASSWORD, add_users, put_demo};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The seeds CI runs. 16 failed once: an order revoked while another order of the same
/// customer, already assigned, had its row positioned after the revocation; the laptop
/// dropped the customer and nothing sent it again (the server now re-sends a customer or
/// equipment still in scope after a revocation).
const CI_SEEDS: &[u64] = &[1, 2, 3, 16];
const STEPS: usize = 120;

struct Laptop {
    name: String,
    engineer: usize,
    store: SharedStore,
    client: Client,
    proxy: FaultProxy,
    /// How far this laptop's clock is off.
    skew: chrono::Duration,
    /// Every operation the store accepted from the engineer.
    ops: Vec<Op>,
}

fn fields(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// What a laptop shows, by (entity, id), as comparable JSON.
type View = BTreeMap<(String, String), Map<String, Value>>;

/// A field that is absent and one that is null say the same (the laptop stores rows
/// without their nulls).
fn without_nulls(mut row: Map<String, Value>) -> Map<String, Value> {
    row.retain(|_, v| !v.is_null());
    row
}

fn laptop_view(store: &Store) -> View {
    store
        .visible_records()
        .expect("reads the laptop")
        .into_iter()
        .map(|(e, id, body)| ((e, id), without_nulls(body)))
        .collect()
}

/// The server's view of an engineer's scope: a fresh pull from nothing.
async fn server_view(url: &str, username: &str) -> (View, String, Client) {
    let session = Client::login(
        url,
        username,
        PASSWORD,
        &format!("check-{username}"),
        "check",
    )
    .await
    .expect("signs in to check");
    let client = Client::new(&session);
    let mut cursor: Option<String> = None;
    let mut view = View::new();
    loop {
        let page = client.pull(cursor.as_deref(), 1000).await.expect("pulls");
        for c in page.changes {
            let key = (c.entity.as_str().to_owned(), c.id.to_string());
            match (c.op, c.row) {
                (ChangeOp::Put, Some(mut row)) => {
                    row.remove("_clocks");
                    view.insert(key, without_nulls(row));
                }
                (ChangeOp::Delete, _) => {
                    view.remove(&key);
                }
                (ChangeOp::Revoke, _) => {
                    // No longer this engineer's: the order and all under it go.
                    let order = Value::String(key.1.clone());
                    view.retain(|k, row| *k != key && row.get("work_order_id") != Some(&order));
                }
                (ChangeOp::Put, None) => panic!("a put without its row for {key:?}"),
            }
        }
        cursor = Some(page.cursor);
        if !page.has_more {
            return (view, cursor.unwrap_or_default(), client);
        }
    }
}

fn random_fault(rng: &mut Rng) -> Fault {
    match rng.below(6) {
        0 | 1 => Fault::None,
        2 => Fault::Refuse,
        3 => Fault::CutRequest(50 + usize::try_from(rng.below(3000)).unwrap_or(0)),
        4 => Fault::CutResponse(10 + usize::try_from(rng.below(3000)).unwrap_or(0)),
        _ => Fault::Delay(Duration::from_millis(5 + rng.below(60))),
    }
}

/// One engineer's action on one laptop; the store refuses what the rules refuse.
fn edit(rng: &mut Rng, laptop: &mut Laptop, step: usize) {
    let at = now() + laptop.skew;
    let mut s = laptop.store.lock().expect("store");
    let orders = s
        .open_work_orders(
            None,
            Page {
                offset: 0,
                limit: 100,
            },
        )
        .expect("lists");
    let orders: Vec<_> = orders.into_iter().filter(|o| !o.revoked).collect();
    if orders.is_empty() {
        return;
    }
    let order = rng.pick(&orders).clone();
    let result = match rng.below(4) {
        0 => {
            let detail = s.work_order(order.id).expect("loads");
            if detail.checklist.is_empty() {
                return;
            }
            let item = rng.pick(&detail.checklist).id;
            let note = format!("{} step {step}", laptop.name);
            s.update(
                Entity::ChecklistItem,
                item,
                fields(&[("note", Value::String(note))]),
                at,
            )
            .map(|op| vec![op])
        }
        1 => {
            let entry = LogEntry {
                id: Uuid::now_v7(),
                work_order_id: order.id,
                day: at.date_naive(),
                text: format!("{} 第{step}步 检查接线", laptop.name),
                progress: None,
                open_problems: None,
                next_plan: None,
                author_id: None,
                voids: None,
            };
            s.append(Entity::LogEntry, &entry, at).map(|op| vec![op])
        }
        2 => {
            // A photo: kept on the laptop, then the record that shows it.
            let size = 1 + usize::try_from(rng.below(200_000)).unwrap_or(0);
            let bytes: Vec<u8> = (0..size).map(|_| (rng.next_u64() & 0xff) as u8).collect();
            let Ok(sha) = s.put_blob(&bytes) else {
                return;
            };
            let photo = Attachment {
                id: Uuid::now_v7(),
                work_order_id: order.id,
                sha256: sha,
                kind: None,
                mime: Some("image/jpeg".into()),
                size: Some(bytes.len() as u64),
                caption: Some(format!("{} 第{step}步 现场照片", laptop.name)),
                voids: None,
            };
            s.append(Entity::Attachment, &photo, at).map(|op| vec![op])
        }
        _ => {
            let next: Vec<Status> = next_statuses(order.status, Role::Engineer)
                .into_iter()
                .filter(|st| {
                    matches!(
                        st,
                        Status::Accepted | Status::EnRoute | Status::OnSite | Status::Diagnosing
                    )
                })
                .collect();
            if next.is_empty() {
                return;
            }
            let to = *rng.pick(&next);
            s.transition(order.id, to, Map::new(), at)
        }
    };
    if let Ok(ops) = result {
        laptop.ops.extend(ops);
    }
}

/// A server with a dispatcher, two engineers, and 10 orders split between them.
fn seed_server(dir: &std::path::Path, seed: u64) -> (Vec<Uuid>, Vec<Uuid>) {
    let storage = SqliteStorage::open(&dir.join("server.db")).expect("server db");
    let users = add_users(
        &storage,
        &[
            ("dispatch", Role::Dispatcher),
            ("wang", Role::Engineer),
            ("li", Role::Engineer),
        ],
    );
    let engineers = vec![users[1], users[2]];
    let at = now();
    let data = generate(
        seed,
        DemoSize {
            customers: 3,
            equipment: 5,
            orders: 10,
            checklist_items_per_order: 3,
            part_usages_per_order: 0,
        },
        engineers[0],
        at,
    );
    let orders = put_demo(&storage, &data, Status::Assigned, at);
    for (i, o) in orders.iter().enumerate() {
        storage
            .assign(*o, &[engineers[i % 2]], None, at)
            .expect("assign");
    }
    (engineers, orders)
}

/// Runs one seed; the number of operations the engineers made.
async fn run_seed(seed: u64, log: &mut Vec<String>) -> Result<usize, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (engineers, orders) = seed_server(dir.path(), seed);
    let mut server = ServerProcess::start(&dir.path().join("server.db"));
    let mut rng = Rng::new(seed);
    let usernames = ["wang", "li"];
    // wang has two laptops; clocks: right, 3 hours fast, 2 days slow.
    let plan = [
        (0usize, chrono::Duration::zero()),
        (0, chrono::Duration::hours(3)),
        (1, chrono::Duration::days(-2)),
    ];
    let mut laptops = Vec::new();
    for (k, (engineer, skew)) in plan.into_iter().enumerate() {
        let name = format!("laptop-{k}");
        let proxy = FaultProxy::start(server.addr);
        let store = Store::open(
            dir.path().join(format!("{name}.db")),
            &OpenOptions {
                device_id: name.clone(),
                key: Some(onsite_tests::laptop_key(&name)),
            },
        )
        .map_err(|e| e.to_string())?;
        let session = Client::login(&proxy.url(), usernames[engineer], PASSWORD, &name, &name)
            .await
            .map_err(|e| format!("{name} signs in: {e}"))?;
        laptops.push(Laptop {
            name,
            engineer,
            store: Arc::new(Mutex::new(store)),
            client: Client::new(&session),
            proxy,
            skew,
            ops: Vec::new(),
        });
    }
    let config = Config::default();
    for step in 0..STEPS {
        let k = usize::try_from(rng.below(3)).unwrap_or(0);
        match rng.below(100) {
            0..=39 => edit(&mut rng, &mut laptops[k], step),
            40..=45 => {
                // The laptop dies in the middle of a sync (its task is dropped wherever it
                // is) and the app starts again on the same database.
                let l = &mut laptops[k];
                let (store, client, config2) =
                    (Arc::clone(&l.store), l.client.clone(), config.clone());
                let task = tokio::spawn(async move {
                    let _ = sync_once(&store, &client, &config2, &|_| {}).await;
                });
                tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
                task.abort();
                let _ = task.await;
                // A killed process's threads die with it; here a store call already
                // running on a blocking thread finishes first (the old process still
                // dying). Then the old process's handle on the database goes away and the
                // app opens it again (without a clean close: as after a crash).
                let mut waited = 0;
                while Arc::strong_count(&l.store) > 1 && waited < 400 {
                    waited += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                let scratch = Store::open(
                    dir.path().join(format!("{}-between-{step}.db", l.name)),
                    &OpenOptions {
                        device_id: l.name.clone(),
                        key: Some(onsite_tests::laptop_key(&l.name)),
                    },
                )
                .map_err(|e| format!("a scratch store: {e}"))?;
                drop(std::mem::replace(
                    &mut l.store,
                    Arc::new(Mutex::new(scratch)),
                ));
                let reopened = Store::open(
                    dir.path().join(format!("{}.db", l.name)),
                    &OpenOptions {
                        device_id: l.name.clone(),
                        key: Some(onsite_tests::laptop_key(&l.name)),
                    },
                )
                .map_err(|e| format!("{} does not reopen: {e}", l.name))?;
                l.store = Arc::new(Mutex::new(reopened));
                log.push(format!("{step}: {} killed mid-sync and restarted", l.name));
            }
            46..=69 => {
                let l = &laptops[k];
                let r = tokio::time::timeout(
                    Duration::from_secs(20),
                    sync_once(&l.store, &l.client, &config, &|_| {}),
                )
                .await;
                log.push(format!(
                    "{step}: {} sync {:?}",
                    l.name,
                    r.map(|r| r.is_ok())
                ));
            }
            70..=84 => {
                let f = random_fault(&mut rng);
                laptops[k].proxy.set(f);
                log.push(format!("{step}: {} wire {f:?}", laptops[k].name));
            }
            85..=91 => {
                if server.is_running() && rng.below(2) == 0 {
                    server.kill9();
                    log.push(format!("{step}: server SIGKILL"));
                } else {
                    server.restart();
                    log.push(format!("{step}: server (re)started"));
                }
            }
            _ => {
                // The dispatcher gives an order to the other engineer.
                let order = *rng.pick(&orders);
                let to = engineers[usize::try_from(rng.below(2)).unwrap_or(0)];
                let storage = SqliteStorage::open(&dir.path().join("server.db"))
                    .map_err(|e| e.to_string())?;
                storage
                    .assign(order, &[to], None, now())
                    .map_err(|e| format!("assign: {e}"))?;
                log.push(format!("{step}: order {order} to {to}"));
            }
        }
    }

    // The network heals and the server is up: everyone syncs until nothing is left.
    if !server.is_running() {
        server.restart();
    }
    for l in &laptops {
        l.proxy.set(Fault::None);
    }
    for round in 0..3 {
        for l in &laptops {
            let mut last = None;
            for _ in 0..5 {
                match sync_once(&l.store, &l.client, &config, &|_| {}).await {
                    Ok(_) => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e.to_string()),
                }
            }
            if let Some(e) = last {
                return Err(format!(
                    "{} cannot sync after healing (round {round}): {e}",
                    l.name
                ));
            }
        }
    }

    let mut photos = 0usize;
    for l in &laptops {
        let (pending, outcomes, mine) = {
            let store = l.store.lock().map_err(|e| e.to_string())?;
            (
                store.pending_count().map_err(|e| e.to_string())?,
                store.outcomes().map_err(|e| e.to_string())?,
                laptop_view(&store),
            )
        };
        if pending != 0 {
            return Err(format!("{} still has {pending} operations to send", l.name));
        }
        let quarantined: BTreeSet<String> = outcomes
            .iter()
            .filter(|o| o.status == OpStatus::Quarantined)
            .map(|o| o.op.id.to_string())
            .collect();
        let shown: BTreeSet<Uuid> = outcomes.iter().map(|o| o.op.op_id).collect();
        let (theirs, cursor, checker) = server_view(&server.url(), usernames[l.engineer]).await;

        // Every photo a record in scope shows is on the server, bytes intact.
        for ((entity, id), row) in &theirs {
            if entity != "attachment" {
                continue;
            }
            let sha = row
                .get("sha256")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match checker.get_blob(sha).await {
                Ok(Some(_)) => photos += 1,
                other => {
                    return Err(format!(
                        "photo {sha} of attachment {id} not on the server: {other:?}"
                    ));
                }
            }
        }

        // Convergence: the laptop shows the server's view of its scope.
        let mut differences = Vec::new();
        for (key, row) in &theirs {
            match mine.get(key) {
                Some(local) if local == row => {}
                Some(local) => {
                    differences.push(format!("{key:?}: laptop {local:?} ≠ server {row:?}"))
                }
                None => differences.push(format!("{key:?}: missing on the laptop")),
            }
        }
        for key in mine.keys() {
            if !theirs.contains_key(key) && !quarantined.contains(&key.1) {
                differences.push(format!("{key:?}: on the laptop only"));
            }
        }
        if !differences.is_empty() {
            return Err(format!(
                "{} differs from the server in {} records, first: {}",
                l.name,
                differences.len(),
                differences
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }

        // Exactly once: replaying every operation gets its first answer back and
        // changes nothing on the server; what was not applied is shown on the laptop.
        let direct = Client::login(
            &server.url(),
            usernames[l.engineer],
            PASSWORD,
            &l.name,
            &l.name,
        )
        .await
        .map_err(|e| format!("{} signs in to replay: {e}", l.name))?;
        let direct = Client::new(&direct);
        for batch in l.ops.chunks(500) {
            let answer = direct
                .push(batch.to_vec())
                .await
                .map_err(|e| format!("{} replay: {e}", l.name))?;
            for r in answer.results {
                let not_applied = matches!(
                    r.status,
                    OpStatus::Rejected | OpStatus::Conflict | OpStatus::Quarantined
                );
                if not_applied && !shown.contains(&r.op_id) {
                    return Err(format!(
                        "{}: operation {} was {:?} on the server but the engineer is not shown it",
                        l.name, r.op_id, r.status
                    ));
                }
            }
        }
        let after = direct
            .pull(Some(&cursor), 10)
            .await
            .map_err(|e| format!("pull after replay: {e}"))?;
        if !after.changes.is_empty() {
            return Err(format!(
                "{}: replaying its operations changed the server ({} changes): an operation was lost or applied twice",
                l.name,
                after.changes.len()
            ));
        }
    }
    let made: usize = laptops.iter().map(|l| l.ops.len()).sum();
    println!(
        "seed {seed}: {made} operations, {photos} photos checked on the server, {STEPS} steps, all converged"
    );
    Ok(made)
}

async fn run_seeds(seeds: &[u64]) {
    let mut failed = Vec::new();
    let mut made = 0usize;
    for &seed in seeds {
        let mut log = Vec::new();
        match run_seed(seed, &mut log).await {
            Ok(n) => made += n,
            Err(e) => {
                let tail = log.len().saturating_sub(20);
                eprintln!(
                    "seed {seed} FAILED: {e}\n  last steps:\n    {}\n  rerun: cargo xtask soak --seed {seed}",
                    log[tail..].join("\n    ")
                );
                failed.push(seed);
            }
        }
    }
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
    // A harness whose engineers do nothing proves nothing (a seed may do little; the
    // average over several must not).
    if seeds.len() >= 3 {
        let per_seed = made / seeds.len();
        assert!(
            per_seed >= 15,
            "only {per_seed} operations a seed on average"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_seeds_converge_with_nothing_lost() {
    run_seeds(CI_SEEDS).await;
}

/// `ONSITE_SEEDS=N` (one seed) or `ONSITE_SEEDS=1..200` (a range).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak: cargo xtask soak --seeds N"]
async fn soak() {
    let spec = std::env::var("ONSITE_SEEDS").unwrap_or_else(|_| "1..20".into());
    let seeds: Vec<u64> = match spec.split_once("..") {
        Some((a, b)) => {
            let (a, b): (u64, u64) = (a.parse().unwrap_or(1), b.parse().unwrap_or(20));
            (a..=b).collect()
        }
        None => vec![spec.parse().unwrap_or(1)],
    };
    run_seeds(&seeds).await;
}
