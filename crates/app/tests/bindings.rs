//! The UI's TypeScript types are generated from the Rust types; this test fails when the
//! committed ones (`ui/src/lib/bindings`) differ from what the Rust types say now.
//! `cargo xtask bindings` (this test with `UPDATE_BINDINGS=1`) writes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every `.ts` file under `dir`, by its path relative to `dir`.
fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "ts") {
                let name = path
                    .strip_prefix(dir)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                files.insert(name, text);
            }
        }
    }
    files
}

#[test]
fn no_two_rust_types_write_the_same_typescript_file() {
    assert_eq!(onsite_app::bindings::clashes(), Vec::<String>::new());
}

#[test]
fn the_ui_types_match_the_rust_types() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../..");
    let committed = root.join(onsite_app::bindings::DIR);
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        if committed.exists() {
            std::fs::remove_dir_all(&committed).expect("clears the old bindings");
        }
        onsite_app::bindings::export_to(&committed).expect("writes the bindings");
        println!("wrote {}", committed.display());
        return;
    }
    let fresh = tempfile::tempdir().expect("temp dir");
    onsite_app::bindings::export_to(fresh.path()).expect("writes the bindings");
    let want = read_dir(fresh.path());
    let have = read_dir(&committed);
    assert!(want.len() > 20, "only {} types generated", want.len());
    let stale: Vec<&String> = want
        .iter()
        .filter(|(name, text)| have.get(*name) != Some(text))
        .map(|(name, _)| name)
        .chain(have.keys().filter(|name| !want.contains_key(*name)))
        .collect();
    assert!(
        stale.is_empty(),
        "the UI's TypeScript types are stale ({stale:?}): run `cargo xtask bindings` and commit ui/src/lib/bindings"
    );
}
