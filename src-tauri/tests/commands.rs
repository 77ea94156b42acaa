//! The window may call a command only when four lists agree: the handler list (lib.rs),
//! the app manifest (build.rs), the capability that grants it (capabilities/default.json)
//! and the UI's typed calls (ui/src/lib/api.ts). A command missing from one of them is a
//! button that fails at run time with "not allowed" or "not found".

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text between `start` and the first `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end:?}"));
    &text[from..from + len]
}

/// Every `"name"` in `text`.
fn quoted(text: &str) -> BTreeSet<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_handler_list_the_manifest_the_capability_and_the_ui_agree() {
    let lib = read(&root().join("src/lib.rs"));
    let handlers: BTreeSet<String> = between(&lib, "generate_handler![", "]")
        .split(',')
        .map(|c| c.trim().trim_start_matches("commands::").to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let build = read(&root().join("build.rs"));
    let manifest = quoted(between(&build, "const COMMANDS: &[&str] = &[", "];"));
    let capability: serde_json::Value =
        serde_json::from_str(&read(&root().join("capabilities/default.json")))
            .expect("the capability is JSON");
    let granted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .expect("a list of permissions")
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect();
    let api = read(&root().join("../ui/src/lib/api.ts"));
    let called: BTreeSet<String> = api
        .split("call<")
        .skip(1)
        .filter_map(|c| quoted(c.split(')').next()?).into_iter().next())
        .collect();
    assert!(handlers.len() >= 14, "{handlers:?}");
    assert_eq!(manifest, handlers, "build.rs COMMANDS vs the handler list");
    assert_eq!(
        granted, handlers,
        "capabilities/default.json vs the handler list"
    );
    assert_eq!(called, handlers, "ui/src/lib/api.ts vs the handler list");
}
