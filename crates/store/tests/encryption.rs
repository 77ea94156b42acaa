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

/// A photo as a camera writes it: a JPEG header and words a thief could look for.
fn photo() -> Vec<u8> {
    let mut bytes = vec![0xff, 0xd8, 0xff, 0xe0];
    bytes.extend_from_slice(b"JFIF nameplate: Carrier 30XA-502 serial 7734-K");
    bytes.extend((0..50_000u32).map(|i| (i % 251) as u8));
    bytes
}

#[test]
fn photo_files_say_nothing_without_the_key_and_read_back_whole_with_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("onsite.db");
    let bytes = photo();
    let sha = {
        let store = open(&path, Some(key(1))).expect("opens");
        let sha = store.put_blob(&bytes).expect("keeps the photo");
        store.close().expect("closes");
        sha
    };
    let on_disk = files(&dir.path().join("onsite-blobs"));
    assert_eq!(on_disk.len(), 1, "one file for one photo: {on_disk:?}");
    let (name, file) = &on_disk[0];
    assert_eq!(
        name, &sha,
        "named by the photo's hash, as the server knows it"
    );
    assert!(
        !contains(file, b"nameplate") && !contains(file, &[0xff, 0xd8, 0xff, 0xe0]),
        "the file shows the photo's bytes"
    );
    let store = open(&path, Some(key(1))).expect("opens again");
    assert_eq!(store.blob(&sha).expect("reads"), Some(bytes));

    // A changed byte is found, not shown as a damaged photo.
    let file_path = dir.path().join("onsite-blobs").join(&sha);
    let mut changed = file.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(&file_path, &changed).expect("writes");
    let err = store.blob(&sha).expect_err("a changed file is refused");
    assert!(matches!(err, StoreError::BadData { .. }), "{err:?}");
}

#[test]
fn the_photos_of_an_older_onsite_move_to_the_databases_folder_and_are_sealed_once_at_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("onsite.db");
    let bytes = photo();
    // An older Onsite: a plain database and its photos in `blobs/`, plain.
    let sha = {
        let store = open(&path, None).expect("opens");
        let sha = store.put_blob(&bytes).expect("keeps the photo");
        store.close().expect("closes");
        sha
    };
    std::fs::rename(dir.path().join("onsite-blobs"), dir.path().join("blobs")).expect("moves");
    assert!(contains(
        &std::fs::read(dir.path().join("blobs").join(&sha)).expect("reads"),
        b"nameplate"
    ));

    let store = open(&path, Some(key(1))).expect("opens with its key");
    assert!(
        !dir.path().join("blobs").exists(),
        "the old folder is left behind"
    );
    let file = std::fs::read(dir.path().join("onsite-blobs").join(&sha)).expect("moved");
    assert!(
        !contains(&file, b"nameplate"),
        "the photo is still plain on disk"
    );
    assert_eq!(store.blob(&sha).expect("reads"), Some(bytes.clone()));
    store.close().expect("closes");
    // Once: the next open does not touch the files.
    let store = open(&path, Some(key(1))).expect("opens again");
    let again = std::fs::read(dir.path().join("onsite-blobs").join(&sha)).expect("reads");
    assert_eq!(again, file, "sealed again at the next open");
    assert_eq!(store.blob(&sha).expect("reads"), Some(bytes));
}

#[test]
fn two_laptops_databases_in_one_folder_keep_their_photos_apart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = photo();
    let a = open(&dir.path().join("laptop-a.db"), Some(key(1))).expect("opens");
    let b = open(&dir.path().join("laptop-b.db"), Some(key(2))).expect("opens");
    let sha = a.put_blob(&bytes).expect("a keeps it");
    assert_eq!(b.blob(&sha).expect("reads"), None, "b has not got it");
    assert_eq!(b.put_blob(&bytes).expect("b keeps it"), sha);
    assert_eq!(a.blob(&sha).expect("reads"), Some(bytes.clone()));
    assert_eq!(b.blob(&sha).expect("reads"), Some(bytes));
}
