//! Property-based fuzzing (proptest, stable Rust) of what the laptop reads from the network:
//! the first sync's snapshot and pulled pages. Whatever arrives, nothing panics, and a page
//! that is refused leaves the laptop as it was.

mod support;

use onsite_store::{Bootstrap, Page, Store};
use proptest::prelude::*;
use serde_json::value::RawValue;
use support::{now, world};

/// Snapshot-like text: a header, lines of five tab-separated fields, a trailer, broken in
/// every way the generator can reach.
fn snapshot_text() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        Just("work_order".to_owned()),
        Just("0192f0c4-7a1b-7000-8000-000000000001".to_owned()),
        Just("{\"id\":\"0192f0c4-7a1b-7000-8000-000000000001\"}".to_owned()),
        Just("{\"*\":\"001795350000000-00000-s\"}".to_owned()),
        Just(String::new()),
        "[ -~\\t\\u{4e00}-\\u{4e10}]{0,40}",
    ];
    let line = proptest::collection::vec(field, 0..7).prop_map(|f| f.join("\t"));
    (
        prop_oneof![
            Just("onsite-snapshot/1\t7.abc\t2026-12-04T10:00:00.000Z".to_owned()),
            "[ -~\\t]{0,60}"
        ],
        proptest::collection::vec(line, 0..12),
        prop_oneof![Just("end\t0".to_owned()), "end\t[0-9]{1,3}", "[ -~]{0,10}"],
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
    )
        .prop_map(|(header, lines, end, noise, with_noise)| {
            let mut text = format!("{header}\n{}\n{end}\n", lines.join("\n")).into_bytes();
            if with_noise {
                text.extend(noise);
            }
            text
        })
}

fn bootstrap_of(store: &Store) -> Bootstrap {
    store.begin_bootstrap().expect("a bootstrap file")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_snapshot_bytes_are_read_without_panic_and_a_bad_one_leaves_the_laptop_empty(
        text in snapshot_text(),
        cut in 1usize..64,
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = support::open(&dir);
        let mut boot = bootstrap_of(&store);
        let mut fed = Ok(());
        for piece in text.chunks(cut) {
            fed = boot.feed(piece);
            if fed.is_err() {
                break;
            }
        }
        match fed {
            Ok(()) => {
                let _ = store.finish_bootstrap(boot, now());
            }
            // Dropped, the half-written file goes with it.
            Err(_) => drop(boot),
        }
        // Whatever happened, the store opens, reads and has a cursor only with records
        // that came whole.
        prop_assert!(store.open_work_orders(None, Page::default()).is_ok());
        if store.cursor().expect("reads").is_none() {
            prop_assert_eq!(store.open_work_orders(None, Page::default()).expect("lists").len(), 0);
        }
    }

    #[test]
    fn any_pulled_page_is_applied_whole_or_refused_without_a_trace(
        changes in proptest::collection::vec(
            prop_oneof![
                Just(r#"{"seq":1,"entity":"work_order","id":"0192f0c4-7a1b-7000-8000-0000000000aa","op":"revoke"}"#.to_owned()),
                Just(r#"{"seq":2,"entity":"log_entry","id":"0192f0c4-7a1b-7000-8000-0000000000ab","op":"delete"}"#.to_owned()),
                Just(r#"{"seq":3,"entity":"customer","id":"0192f0c4-7a1b-7000-8000-0000000000ac","op":"put","row":{"id":"0192f0c4-7a1b-7000-8000-0000000000ac","name":"x","_clocks":{"*":"001795350000000-00000-s"}}}"#.to_owned()),
                Just(r#"{"seq":4,"entity":"nonsense","id":"x","op":"put"}"#.to_owned()),
                Just(r#"{"seq":5,"entity":"work_order","id":"0192f0c4-7a1b-7000-8000-0000000000ad","op":"put","row":{"status":7}}"#.to_owned()),
                "\\{[ -~]{0,40}\\}",
                "[0-9]{1,5}",
                Just("null".to_owned()),
            ],
            0..8,
        ),
    ) {
        let mut w = world(3);
        let before_cursor = w.store.cursor().expect("reads");
        let before = w.store.open_work_orders(None, Page::default()).expect("lists");
        let raw: Vec<Box<RawValue>> = changes
            .iter()
            .filter_map(|c| RawValue::from_string(c.clone()).ok())
            .collect();
        let applied = w.store.apply_pull_raw(&raw, "99.fuzz", now(), now());
        if applied.is_err() {
            prop_assert_eq!(w.store.cursor().expect("reads"), before_cursor);
            prop_assert_eq!(w.store.open_work_orders(None, Page::default()).expect("lists"), before);
        }
    }
}
