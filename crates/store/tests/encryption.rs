//! The laptop's data at rest: encrypted with SQLCipher under a key the app keeps in the
//! system keyring. A stolen laptop's database file tells nothing without it.

mod support;

use onsite_domain::Entity;
use onsite_store::{DbKey, OpenOptions, Store, StoreError};
use support::{DEVICE, changes, now, size};

fn key(byte: u8) -> DbKey {
    DbKey::from_bytes([byte; 32])
}

fn open(path: &std::path::Path, key: Option<DbKey>) -> onsite_store::Result<Store> {
    Store::open(
        path,
        &OpenOptions {
            device_id: DEVICE.into(),
            key,
        },
    )
}

/// Every file of the store's folder, read whole.
fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("lists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("reads"),
            )
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A laptop with some orders pulled, the store closed.
fn filled(path: &std::path::Path, key: Option<DbKey>) -> usize {
    let mut store = open(path, key).expect("opens");
    let engineer = uuid::Uuid::now_v7();
    let data = onsite_domain::demo::generate(5, size(4), engineer, now());
    store
        .apply_pull(changes(&data, engineer), "40", now(), now())
        .expect("pulls");
    let n = store.visible_records().expect("reads").len();
    store.close().expect("closes");
    n
}

#[test]
fn the_database_file_says_nothing_without_its_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("onsite.db");
    let records = filled(&path, Some(key(1)));
    for (name, bytes) in files(dir.path()) {
        assert!(
            !contains(&bytes, b"SQLite format 3"),
            "{name} is a plain SQLite file"
        );
        assert!(
            !contains(&bytes, "有限公司".as_bytes()) && !contains(&bytes, b"work_order"),
            "{name} shows the data in the clear"
        );
    }
    let store = open(&path, Some(key(1))).expect("the right key opens it");
    assert_eq!(store.visible_records().expect("reads").len(), records);
    drop(store);
    assert!(matches!(
        open(&path, Some(key(2))),
        Err(StoreError::WrongKey { .. })
    ));
    assert!(open(&path, None).is_err(), "no key, no data");
}

#[test]
fn a_plain_database_of_an_older_onsite_is_encrypted_once_at_open_and_keeps_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("onsite.db");
    let records = filled(&path, None);
    assert!(contains(
        &std::fs::read(&path).expect("reads"),
        b"SQLite format 3"
    ));
    let mut store = open(&path, Some(key(3))).expect("converts");
    assert_eq!(store.visible_records().expect("reads").len(), records);
    assert!(store.cursor().expect("reads").is_some());
    // Work goes on as before, and stays.
    let order = store
        .open_work_orders(None, onsite_store::Page::default())
        .expect("lists")[0]
        .id;
    store
        .update(
            Entity::WorkOrder,
            order,
            serde_json::Map::from_iter([("diagnosis".to_owned(), "加密之后写的".into())]),
            now(),
        )
        .expect("writes");
    store.close().expect("closes");
    for (name, bytes) in files(dir.path()) {
        assert!(
            !contains(&bytes, b"SQLite format 3"),
            "{name}: no plain copy is left behind"
        );
    }
    let store = open(&path, Some(key(3))).expect("opens");
    assert_eq!(
        store
            .work_order(order)
            .expect("reads")
            .order
            .diagnosis
            .as_deref(),
        Some("加密之后写的")
    );
}

#[test]
fn a_first_sync_into_an_encrypted_laptop_is_encrypted_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("onsite.db");
    let mut store = open(&path, Some(key(4))).expect("opens");
    let engineer = uuid::Uuid::now_v7();
    let data = onsite_domain::demo::generate(6, size(3), engineer, now());
    let text = support::snapshot_text(&changes(&data, engineer), "9");
    let mut boot = store.begin_bootstrap().expect("begins");
    boot.feed(text.as_bytes()).expect("reads");
    store
        .finish_bootstrap(boot, now())
        .expect("finishes")
        .expect("put in place");
    let records = store.visible_records().expect("reads").len();
    assert!(records > 0);
    store.close().expect("closes");
    for (name, bytes) in files(dir.path()) {
        assert!(!contains(&bytes, b"SQLite format 3"), "{name}");
    }
    let store = open(&path, Some(key(4))).expect("opens");
    assert_eq!(store.visible_records().expect("reads").len(), records);
}

/// The key in the system keyring: made once, the same at every open, one per data folder.
/// Needs a Secret Service (`cargo xtask test` runs one, headless).
#[cfg(feature = "keychain")]
#[test]
fn the_database_key_is_made_once_and_kept_in_the_system_keyring() {
    let dir = tempfile::tempdir().expect("temp dir");
    let other = tempfile::tempdir().expect("temp dir");
    let first = onsite_store::keychain::database_key(dir.path()).expect("a keyring");
    let again = onsite_store::keychain::database_key(dir.path()).expect("a keyring");
    assert_eq!(first, again);
    let elsewhere = onsite_store::keychain::database_key(other.path()).expect("a keyring");
    assert_ne!(first, elsewhere);
    onsite_store::keychain::set_secret(dir.path(), "session-token", Some("tok")).expect("kept");
    assert_eq!(
        onsite_store::keychain::secret(dir.path(), "session-token").expect("reads"),
        Some("tok".into())
    );
    onsite_store::keychain::set_secret(dir.path(), "session-token", None).expect("forgets");
    assert_eq!(
        onsite_store::keychain::secret(dir.path(), "session-token").expect("reads"),
        None
    );
}
