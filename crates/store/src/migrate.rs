//! Opening checks and schema migrations: numbered SQL files embedded in the binary, each
//! applied in its own transaction after a `VACUUM INTO` backup of the previous version.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use crate::{Result, StoreError};

/// The migrations, in order; `user_version` is the number of those applied.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_journal.sql"),
];

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

/// Brings the schema up to `version` ([`SCHEMA_VERSION`] but in the tests of an upgrade).
pub(crate) fn migrate_to(conn: &mut Connection, path: &Path, version: i64) -> Result<()> {
    let n = usize::try_from(version.clamp(0, SCHEMA_VERSION)).unwrap_or(MIGRATIONS.len());
    migrate_with(conn, path, &MIGRATIONS[..n])
}

fn migrate_with(conn: &mut Connection, path: &Path, migrations: &[&str]) -> Result<()> {
    let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: current,
            known,
        });
    }
    for (i, sql) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let version = i64::try_from(i).unwrap_or(i64::MAX);
        // A database made just now (a new laptop, a first sync's file) has nothing to keep.
        if version > 0 && current > 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("reads")
    }

    #[test]
    fn a_database_of_every_earlier_version_migrates_to_the_current_one() {
        for start in 0..SCHEMA_VERSION {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("old.db");
            let mut conn = Connection::open(&path).expect("opens");
            let first = usize::try_from(start).expect("small");
            migrate_with(&mut conn, &path, &MIGRATIONS[..first]).expect("builds the old version");
            assert_eq!(version(&conn), start);
            migrate_to(&mut conn, &path, SCHEMA_VERSION).expect("migrates");
            assert_eq!(version(&conn), SCHEMA_VERSION);
            assert_eq!(
                check_integrity(&conn, &path, true).expect("checks"),
                "integrity_check"
            );
        }
    }

    #[test]
    fn the_previous_version_is_backed_up_before_a_migration_changes_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("onsite.db");
        let mut conn = Connection::open(&path).expect("opens");
        migrate_to(&mut conn, &path, SCHEMA_VERSION).expect("current schema");
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('device_id', 'laptop-1')",
            [],
        )
        .expect("writes");
        let mut next: Vec<&str> = MIGRATIONS.to_vec();
        next.push("ALTER TABLE meta ADD COLUMN note TEXT;");
        migrate_with(&mut conn, &path, &next).expect("migrates to the next version");
        let backup = backup_path(&path, SCHEMA_VERSION);
        let old = Connection::open(&backup).expect("the backup opens");
        assert_eq!(version(&old), SCHEMA_VERSION);
        let device: String = old
            .query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
                r.get(0)
            })
            .expect("holds the data");
        assert_eq!(device, "laptop-1");
        assert!(
            old.prepare("SELECT note FROM meta").is_err(),
            "the backup has the old shape"
        );
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("onsite.db");
        let mut conn = Connection::open(&path).expect("opens");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("sets");
        let err = migrate_to(&mut conn, &path, SCHEMA_VERSION).expect_err("refused");
        assert!(err.to_string().contains("update Onsite"), "{err}");
    }
}
