//! The laptop's database encrypted at rest with SQLCipher: a random 32-byte raw key (no
//! key derivation at each open) that the app keeps in the operating system's keyring. A
//! database written before encryption is converted once at open, and its plain copy is
//! removed once the encrypted one has been verified.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::{Result, StoreError};

/// The key of an encrypted store.
#[derive(Clone, PartialEq, Eq)]
pub struct DbKey([u8; 32]);

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbKey(…)")
    }
}

impl DbKey {
    pub fn from_bytes(bytes: [u8; 32]) -> DbKey {
        DbKey(bytes)
    }

    /// 64 hex digits, as kept in the keyring.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key from its 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<DbKey> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(DbKey(bytes))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The SQL value of a raw key: `"x'…'"`.
    fn literal(&self) -> String {
        format!("\"x'{}'\"", self.to_hex())
    }
}

/// The page size of every encrypted file. SQLCipher cannot read it from the (encrypted)
/// header, so all files share it: 16 KiB, which a first sync's file is written with.
pub(crate) const PAGE_SIZE: u32 = 16_384;

/// Applies `key` to a connection just opened, before anything reads it. Pages are
/// authenticated with HMAC-SHA256 rather than SQLCipher's default SHA512: a first sync of
/// 10,000 orders took 1.31 s instead of 1.66 s (the store bench), and this processor
/// class hashes SHA-256 in hardware.
pub(crate) fn apply(conn: &Connection, key: Option<&DbKey>) -> Result<()> {
    if let Some(key) = key {
        // The default too: a database attached with a key (a first sync's file copying
        // the live store's settings) is read with it before any pragma could name it.
        conn.execute_batch(&format!(
            "PRAGMA cipher_default_page_size = {PAGE_SIZE}; PRAGMA cipher_default_hmac_algorithm = HMAC_SHA256; PRAGMA key = {}; PRAGMA cipher_page_size = {PAGE_SIZE}; PRAGMA cipher_hmac_algorithm = HMAC_SHA256;",
            key.literal()
        ))?;
    }
    Ok(())
}

/// Attaches the database at `path` as `schema`, with `key` when encrypted.
pub(crate) fn attach(
    conn: &Connection,
    path: &Path,
    schema: &str,
    key: Option<&DbKey>,
) -> Result<()> {
    match key {
        Some(key) => {
            conn.execute(
                &format!("ATTACH DATABASE ?1 AS {schema} KEY {}", key.literal()),
                [path.to_string_lossy()],
            )?;
            conn.execute_batch(&format!("PRAGMA {schema}.cipher_page_size = {PAGE_SIZE};"))?;
        }
        None => {
            conn.execute(
                &format!("ATTACH DATABASE ?1 AS {schema}"),
                [path.to_string_lossy()],
            )?;
        }
    }
    Ok(())
}

/// Whether the connection can read its database (with the key it was given).
fn readable(conn: &Connection) -> bool {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .is_ok()
}

/// Opens the database at `path` with `key`, converting a plain database written before
/// encryption into an encrypted one first.
pub(crate) fn open(path: &Path, key: Option<&DbKey>) -> Result<Connection> {
    let conn = Connection::open(path)?;
    apply(&conn, key)?;
    let Some(key) = key else {
        return Ok(conn);
    };
    if readable(&conn) {
        return Ok(conn);
    }
    drop(conn);
    let plain = Connection::open(path)?;
    if !readable(&plain) {
        return Err(StoreError::WrongKey {
            path: path.to_owned(),
        });
    }
    encrypt(plain, path, key)?;
    let conn = Connection::open(path)?;
    apply(&conn, Some(key))?;
    Ok(conn)
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Converts the plain database at `path` (opened as `plain`) into an encrypted one in
/// place: an encrypted copy is written beside it and checked, then put in its place, and
/// the plain file is removed.
fn encrypt(plain: Connection, path: &Path, key: &DbKey) -> Result<()> {
    plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let version: i64 = plain.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let records: i64 = count_records(&plain);
    let copy = sidecar(path, ".encrypting");
    for leftover in [copy.clone(), sidecar(&copy, "-wal"), sidecar(&copy, "-shm")] {
        if leftover.exists() {
            std::fs::remove_file(&leftover).map_err(io(&leftover))?;
        }
    }
    attach(&plain, &copy, "encrypted", Some(key))?;
    plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
    plain.execute_batch(&format!(
        "PRAGMA encrypted.user_version = {version}; DETACH DATABASE encrypted;"
    ))?;
    drop(plain);
    // The copy must read back whole, with the key, before the plain file goes.
    {
        let check = Connection::open(&copy)?;
        apply(&check, Some(key))?;
        let ok: String = check.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let copied: i64 = count_records(&check);
        let copied_version: i64 = check.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if ok != "ok" || copied != records || copied_version != version {
            drop(check);
            let _ = std::fs::remove_file(&copy);
            return Err(StoreError::BadData {
                what: "encrypted copy of the local database".into(),
                detail: format!(
                    "{ok}; {copied} of {records} records, schema {copied_version} of {version}"
                ),
            });
        }
    }
    let old = sidecar(path, ".plain");
    std::fs::rename(path, &old).map_err(io(path))?;
    std::fs::rename(&copy, path).map_err(io(&copy))?;
    for stale in [sidecar(path, "-wal"), sidecar(path, "-shm"), old] {
        if stale.exists() {
            std::fs::remove_file(&stale).map_err(io(&stale))?;
        }
    }
    Ok(())
}

fn count_records(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM record", [], |r| r.get(0))
        .unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_through_hex_and_never_prints() {
        let key = DbKey::from_bytes([7u8; 32]);
        assert_eq!(DbKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert_eq!(format!("{key:?}"), "DbKey(…)");
        assert!(DbKey::from_hex("zz").is_none());
        assert!(DbKey::from_hex(&"g".repeat(64)).is_none());
    }
}
