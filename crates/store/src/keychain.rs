//! The database key in the operating system's keyring (the `keyring` crate: Secret Service
//! on Linux, Keychain on macOS, Credential Manager on Windows): made at random the first
//! time, read back at every open. The key never touches the disk in the clear.

use std::path::{Path, PathBuf};

use crate::cipher::DbKey;
use crate::{Result, StoreError};

/// The keyring's service name for Onsite's secrets.
pub const SERVICE: &str = "onsite";

/// The keyring entry of the database in `dir` (one key per data folder).
fn entry(dir: &Path, what: &str) -> Result<keyring::Entry> {
    let folder = dir
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(dir))
        .display()
        .to_string();
    keyring::Entry::new(SERVICE, &format!("{what}:{folder}")).map_err(unavailable)
}

fn unavailable(e: keyring::Error) -> StoreError {
    StoreError::Keyring(e.to_string())
}

/// The key of the database in `dir`: read from the keyring, or made and kept there the
/// first time.
pub fn database_key(dir: &Path) -> Result<DbKey> {
    let entry = entry(dir, "database-key")?;
    match entry.get_password() {
        Ok(hex) => DbKey::from_hex(&hex).ok_or_else(|| {
            StoreError::Keyring("the database key in the keyring is damaged".into())
        }),
        Err(keyring::Error::NoEntry) => {
            let key = DbKey::from_bytes(rand::random());
            entry.set_password(&key.to_hex()).map_err(unavailable)?;
            // Read back: a keyring that accepted and lost it would lock the data out.
            match entry.get_password() {
                Ok(hex) if DbKey::from_hex(&hex).as_ref() == Some(&key) => Ok(key),
                Ok(_) => Err(StoreError::Keyring(
                    "the keyring gave back another key than it was given".into(),
                )),
                Err(e) => Err(unavailable(e)),
            }
        }
        Err(e) => Err(unavailable(e)),
    }
}

/// A secret of the app kept in the keyring beside the database key (the session token).
pub fn secret(dir: &Path, name: &str) -> Result<Option<String>> {
    match entry(dir, name)?.get_password() {
        Ok(v) => Ok(Some(v)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

/// Keeps (or, with `None`, forgets) a secret of the app in the keyring.
pub fn set_secret(dir: &Path, name: &str, value: Option<&str>) -> Result<()> {
    let entry = entry(dir, name)?;
    match value {
        Some(v) => entry.set_password(v).map_err(unavailable),
        None => match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        },
    }
}
