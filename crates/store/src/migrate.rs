//! Opening checks and schema migrations: numbered SQL files embedded in the binary, each
//! applied in its own transaction after a `VACUUM INTO` backup of the previous version.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use crate::{Result, StoreError};

/// The migrations, in order; `user_version` is the number of those applied.
pub(crate) const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_init.sql")];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Runs `quick_check`, or the full `integrity_check` when the last session did not close
/// cleanly (or when `full` asks for it). Returns which one ran.
pub(crate) fn check_integrity(conn: &Connection, path: &Path, full: bool) -> Result<&'static str> {
    let has_meta: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'meta')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| corrupt(path, &e.to_string()))?;
    let unclean = has_meta
        && conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'clean_shutdown'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(|e| corrupt(path, &e.to_string()))?
            .is_some_and(|v| v == "0");
    let pragma = if unclean || full {
        "integrity_check"
    } else {
        "quick_check"
    };
    let mut stmt = conn
        .prepare(&format!("PRAGMA {pragma}"))
        .map_err(|e| corrupt(path, &e.to_string()))?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(Iterator::collect)
        .map_err(|e| corrupt(path, &e.to_string()))?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(pragma)
    } else {
        Err(corrupt(path, &rows.join("; ")))
    }
}

fn corrupt(path: &Path, detail: &str) -> StoreError {
    let backup = latest_backup(path);
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.chars().take(300).collect(),
        backup,
    }
}

fn backup_path(path: &Path, version: i64) -> PathBuf {
    PathBuf::from(format!("{}.v{version}.bak", path.display()))
}

fn latest_backup(path: &Path) -> Option<PathBuf> {
    (1..=SCHEMA_VERSION)
        .rev()
        .map(|v| backup_path(path, v))
        .find(|p| p.exists())
}

/// Brings the schema up to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let version = i64::try_from(i).unwrap_or(i64::MAX);
        if version > 0 {
            // A copy of the database as it was, before anything changes its shape.
            let backup = backup_path(path, version);
            if backup.exists() {
                std::fs::remove_file(&backup).map_err(|source| StoreError::Io {
                    path: backup.clone(),
                    source,
                })?;
            }
            conn.execute("VACUUM INTO ?1", [backup.to_string_lossy()])?;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
    Ok(())
}
