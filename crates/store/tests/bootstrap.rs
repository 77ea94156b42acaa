//! A first sync written into a new database file and put in place of the empty store.

mod support;

use onsite_domain::Entity;
use onsite_store::{Page, Store};
use serde_json::json;
use support::{now, open};
use uuid::Uuid;

fn feed_in_pieces(store: &Store, text: &str, piece: usize) -> onsite_store::Bootstrap {
    let mut boot = store.begin_bootstrap().expect("starts");
    for chunk in text.as_bytes().chunks(piece) {
        boot.feed(chunk).expect("takes the bytes");
    }
    boot
}

/// The first 500 open orders, as the list shows them.
fn open_list(s: &Store) -> Vec<onsite_store::WorkOrderSummary> {
    s.open_work_orders(
        None,
        Page {
            offset: 0,
            limit: 500,
        },
    )
    .expect("lists")
}

#[test]
fn a_snapshot_gives_the_same_laptop_as_the_same_rows_pulled_page_by_page() {
    let engineer = Uuid::from_u128(0xE1);
    let data = onsite_domain::demo::generate(11, support::size(60), engineer, now());
    let all = support::changes(&data, engineer);
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut paged = open(&dir_a);
    for (i, page) in all.chunks(500).enumerate() {
        paged
            .apply_pull_raw(&support::raw(page), &format!("p{i}"), now(), now())
            .expect("applies");
    }
    let mut fresh = open(&dir_b);
    fresh.set_setting("language", "en").expect("a setting");
    assert!(fresh.can_bootstrap().expect("reads"));
    // Pieces that cut lines, and characters, anywhere.
    let boot = feed_in_pieces(&fresh, &support::snapshot_text(&all, "4242"), 997);
    let stats = fresh
        .finish_bootstrap(boot, now())
        .expect("puts it in place")
        .expect("the store was empty");
    assert_eq!(stats.records, all.len() as u64);
    assert_eq!(stats.work_orders, 60);

    // The same records with the same fields. The snapshot keeps the server's rows as
    // written (null fields included); the pulled path leaves nulls out. Both read the same.
    let without_nulls = |s: &Store| {
        let mut records = s.visible_records().expect("reads");
        for (_, _, fields) in &mut records {
            fields.retain(|_, v| !v.is_null());
        }
        records
    };
    let (a, b) = (without_nulls(&paged), without_nulls(&fresh));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(x == y, "{} {} differs:\n{:?}\n{:?}", x.0, x.1, x.2, y.2);
    }
    for o in &data.orders {
        let read = |s: &Store| {
            serde_json::to_value(s.work_order(o.id).expect("reads")).expect("serialises")
        };
        assert_eq!(
            read(&paged),
            read(&fresh),
            "order {} reads the same",
            o.number
        );
    }
    assert_eq!(open_list(&paged), open_list(&fresh));
    let order = &data.orders[7];
    let customer = data
        .customers
        .iter()
        .find(|c| c.id == order.customer_id)
        .expect("customer");
    for query in [
        order.number.as_str(),
        customer.name.as_str(),
        &order.fault_description[..6],
    ] {
        let ids = |s: &Store| {
            let mut v: Vec<Uuid> = s
                .search(query, 500)
                .expect("searches")
                .iter()
                .map(|h| h.id)
                .collect();
            v.sort();
            v
        };
        assert!(ids(&fresh).contains(&order.id), "{query} finds the order");
        assert_eq!(ids(&paged), ids(&fresh), "{query}");
    }
    assert_eq!(fresh.cursor().expect("reads").as_deref(), Some("4242"));
    assert_eq!(
        fresh.setting("language").expect("reads").as_deref(),
        Some("en"),
        "settings kept"
    );
    assert_eq!(fresh.device_id(), support::DEVICE);
    fresh
        .verify()
        .expect("tables, indexes and the search index agree");
    // It is the store's file, and it works as one: a write, then a clean reopen.
    let item = data.checklist_items[0].id;
    fresh
        .update(
            Entity::ChecklistItem,
            item,
            serde_json::from_value(json!({"note": "现场备注"})).expect("fields"),
            now(),
        )
        .expect("writes");
    assert_eq!(fresh.pending_count().expect("counts"), 1);
    let path = fresh.path().to_path_buf();
    fresh.close().expect("closes");
    assert!(!std::path::Path::new(&format!("{}.first-sync", path.display())).exists());
    let again = open(&dir_b);
    assert_eq!(again.opened_with, "quick_check", "closed cleanly");
    assert_eq!(again.pending_count().expect("counts"), 1);
    assert_eq!(
        again
            .record_json(Entity::ChecklistItem, item)
            .expect("reads")
            .expect("there")["note"],
        "现场备注"
    );
}

#[test]
fn a_snapshot_cut_off_before_its_end_is_refused_and_changes_nothing() {
    let engineer = Uuid::from_u128(0xE1);
    let data = onsite_domain::demo::generate(12, support::size(10), engineer, now());
    let all = support::changes(&data, engineer);
    let text = support::snapshot_text(&all, "77");
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(&dir);
    // Halfway, at a character's start (the text is UTF-8), and just before the trailer.
    let half = (0..=text.len() / 2)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    for cut in [half, text.rfind("end\t").expect("a trailer")] {
        let boot = feed_in_pieces(&store, &text[..cut], 4096);
        let err = store.finish_bootstrap(boot, now()).expect_err("refused");
        assert!(err.to_string().contains("cut off"), "{err}");
        assert!(store.can_bootstrap().expect("reads"), "still empty");
        assert_eq!(store.cursor().expect("reads"), None);
        assert!(store.visible_records().expect("reads").is_empty());
    }
    let leftover = format!("{}.first-sync", store.path().display());
    assert!(
        !std::path::Path::new(&leftover).exists(),
        "the new file is removed"
    );
    // A line that is not a record stops it at once.
    let mut boot = store.begin_bootstrap().expect("starts");
    let header = text.lines().next().expect("header");
    boot.feed(format!("{header}\nwork_order\tnot-an-id\t\t{{}}\t{{}}\n").as_bytes())
        .expect_err("refused");
    // Another format (a newer server) is refused with what to do.
    let mut boot = store.begin_bootstrap().expect("starts");
    let err = boot
        .feed(b"onsite-snapshot/9\t1\t2026-11-22T08:00:00Z\n")
        .expect_err("refused");
    assert!(err.to_string().contains("update Onsite"), "{err}");
}

#[test]
fn work_done_while_the_snapshot_arrived_makes_it_give_way_to_pages() {
    let engineer = Uuid::from_u128(0xE1);
    let data = onsite_domain::demo::generate(13, support::size(10), engineer, now());
    let all = support::changes(&data, engineer);
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(&dir);
    let boot = feed_in_pieces(&store, &support::snapshot_text(&all, "9"), 65536);
    // The engineer (or an ordinary pull) wrote something meanwhile.
    store
        .apply_pull_raw(&support::raw(&all[..3]), "c1", now(), now())
        .expect("applies");
    let before = store.visible_records().expect("reads");
    assert_eq!(store.finish_bootstrap(boot, now()).expect("no error"), None);
    assert_eq!(
        store.visible_records().expect("reads"),
        before,
        "nothing replaced"
    );
    assert_eq!(store.cursor().expect("reads").as_deref(), Some("c1"));
}

/// The order list is made while the lines are read when the server sends fault levels,
/// customers and equipment before the orders (as ours does), and from the written
/// records otherwise. Both ways give the same list and search.
#[test]
fn the_order_list_is_the_same_whatever_order_the_snapshot_sends_its_lines_in() {
    use onsite_domain::sla::SlaConfig;
    let engineer = Uuid::from_u128(0xE1);
    let data = onsite_domain::demo::generate(14, support::size(40), engineer, now());
    let all = support::changes(&data, engineer);
    // This server's own table: every deadline 7 minutes later than the default one.
    let mut sla = SlaConfig {
        version: 2,
        ..SlaConfig::default()
    };
    for l in &mut sla.levels {
        l.respond_within_minutes += 7;
        l.on_site_within_minutes = l.on_site_within_minutes.map(|m| m + 7);
    }
    sla.repair_simple_minutes += 7;
    sla.repair_complex_minutes += 7;
    let levels = format!(
        "fault_levels\t{}\t\t{}\t{{}}\n",
        Uuid::from_u128(0x51A),
        serde_json::to_string(&sla).expect("serialises")
    );
    let text = support::snapshot_text(&all, "5");
    let (header, rest) = text.split_once('\n').expect("a header");
    let (rows, _) = rest.rsplit_once("end\t").expect("a trailer");
    let trailer = format!("end\t{}\n", all.len() + 1);
    let is_order = |l: &&str| l.starts_with("work_order\t");
    let orders: Vec<&str> = rows.lines().filter(is_order).collect();
    let others: Vec<&str> = rows.lines().filter(|l| !is_order(l)).collect();
    let lines = |parts: &[&[&str]]| {
        parts
            .iter()
            .flat_map(|p| p.iter())
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let variants = [
        // The server's order: the table, the owners, then the orders.
        format!("{header}\n{levels}{}{trailer}", lines(&[&others, &orders])),
        // The table last.
        format!("{header}\n{}{levels}{trailer}", lines(&[&others, &orders])),
        // The orders before their customers and equipment.
        format!("{header}\n{levels}{}{trailer}", lines(&[&orders, &others])),
    ];
    let mut made = Vec::new();
    for text in &variants {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = open(&dir);
        let boot = feed_in_pieces(&store, text, 4093);
        store
            .finish_bootstrap(boot, now())
            .expect("puts it in place")
            .expect("the store was empty");
        store.verify().expect("the list and its search agree");
        let customer = &data.customers[0].name;
        let mut found: Vec<Uuid> = store
            .search(customer, 500)
            .expect("searches")
            .iter()
            .map(|h| h.id)
            .collect();
        found.sort();
        assert!(!found.is_empty(), "{customer} finds orders");
        made.push((open_list(&store), found, dir, store));
    }
    let open_orders = data
        .orders
        .iter()
        .filter(|o| !o.status.is_finished())
        .count();
    assert_eq!(made[0].0.len(), open_orders);
    for other in &made[1..] {
        assert_eq!(made[0].0, other.0, "the same list");
        assert_eq!(made[0].1, other.1, "the same search");
    }
    // The snapshot's table was used: 7 minutes later than a store with the default one
    // (14 for a repair, which counts from the on-site deadline).
    let dir = tempfile::tempdir().expect("dir");
    let mut plain = open(&dir);
    let boot = feed_in_pieces(&plain, &text, 4093);
    plain
        .finish_bootstrap(boot, now())
        .expect("puts it in place");
    let mut with_deadline = 0;
    for (a, b) in open_list(&plain).iter().zip(&made[0].0) {
        let (a, b) = (a.clone(), b.clone());
        assert_eq!(a.id, b.id);
        if let (Some(x), Some(y)) = (a.due_at, b.due_at) {
            // A postponed order's agreed visit does not follow the table.
            let later = match a.due_kind {
                Some(onsite_domain::sla::Milestone::Repair) => 14,
                Some(onsite_domain::sla::Milestone::AgreedVisit) => 0,
                _ => 7,
            };
            assert_eq!(y - x, chrono::Duration::minutes(later), "{}", a.number);
            with_deadline += 1;
        }
    }
    assert!(with_deadline > 0, "some orders have a deadline");
}

/// A new engineer with nothing assigned yet: the snapshot is a header and a trailer.
#[test]
fn an_empty_snapshot_gives_an_empty_laptop_with_its_cursor() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(&dir);
    let text = support::snapshot_text(&[], "31");
    let boot = feed_in_pieces(&store, &text, 7);
    let stats = store
        .finish_bootstrap(boot, now())
        .expect("puts it in place")
        .expect("the store was empty");
    assert_eq!((stats.records, stats.work_orders), (0, 0));
    assert_eq!(store.cursor().expect("reads").as_deref(), Some("31"));
    assert!(open_list(&store).is_empty());
    assert!(store.search("SC", 10).expect("searches").is_empty());
    store.verify().expect("consistent");
}

/// The reader on one thread, the writer on another (as the sync engine runs them): the
/// same laptop as feeding on one thread; a damaged line stops the reader with an error,
/// and the half-written file goes with the bootstrap.
#[test]
fn reading_and_writing_on_two_threads_gives_the_same_laptop_and_stops_at_a_damaged_line() {
    let engineer = Uuid::from_u128(0xE1);
    let data = onsite_domain::demo::generate(15, support::size(30), engineer, now());
    let all = support::changes(&data, engineer);
    let text = support::snapshot_text(&all, "8");
    let two_threads = |store: &Store, text: String| {
        let mut boot = store.begin_bootstrap().expect("starts");
        let mut reader = boot.take_reader();
        let (tx, rx) = std::sync::mpsc::sync_channel::<onsite_store::SnapshotLines>(2);
        let reading = std::thread::spawn(move || {
            for piece in text.as_bytes().chunks(1000) {
                let lines = reader.read(piece)?;
                if tx.send(lines).is_err() {
                    break;
                }
            }
            Ok::<_, onsite_store::StoreError>(reader)
        });
        for lines in rx {
            boot.write(&lines).expect("writes");
        }
        (boot, reading.join().expect("the reader thread"))
    };

    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut one = open(&dir_a);
    let boot = feed_in_pieces(&one, &text, 1000);
    one.finish_bootstrap(boot, now()).expect("in place");
    let mut two = open(&dir_b);
    let (mut boot, read) = two_threads(&two, text.clone());
    boot.put_reader(read.expect("reads"));
    two.finish_bootstrap(boot, now()).expect("in place");
    assert_eq!(
        one.visible_records().expect("reads"),
        two.visible_records().expect("reads")
    );
    assert_eq!(open_list(&one), open_list(&two));

    // A line damaged two thirds of the way in.
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
    let at = text.len() * 2 / 3;
    let start = text[..at].rfind('\n').expect("a line") + 1;
    let damaged = format!(
        "{}work_order\tnot-an-id\t\t{{}}\t{{}}\n{}",
        &text[..start],
        &text[start..]
    );
    let (boot, read) = two_threads(&store, damaged);
    let err = read.expect_err("the damaged line is refused");
    assert!(err.to_string().contains("not a record line"), "{err}");
    assert!(boot.records() > 0, "the lines before it were written");
    let new_file = format!("{}.first-sync", store.path().display());
    assert!(std::path::Path::new(&new_file).exists());
    drop(boot);
    assert!(
        !std::path::Path::new(&new_file).exists(),
        "removed with the bootstrap"
    );
    assert!(
        store.can_bootstrap().expect("reads"),
        "the store is unchanged"
    );
}
