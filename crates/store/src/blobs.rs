//! Photos and signature images: files named by their SHA-256 in a folder of the
//! database's own (`onsite-blobs/` beside `onsite.db`), written durably before the record
//! that references them, and uploaded by the sync engine before that record is pushed.
//!
//! Sealed at rest when the database is encrypted: XChaCha20-Poly1305 (`chacha20poly1305`)
//! under a key derived with HKDF-SHA256 from the database's key (never the same key for
//! two ciphers), a random 24-byte nonce per file, and the file's name as associated data
//! (a file renamed to another photo's name does not open). A file is
//! `ONSBLOB1 | nonce | ciphertext and tag`. The names are the photos' hashes, as the
//! server knows them: they say which photos are here, not what they show.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use onsite_domain::signature::sha256_hex;
use rusqlite::params;
use uuid::Uuid;

use crate::cipher::DbKey;
use crate::{Result, Store, StoreError, meta_get, meta_set};

/// The first bytes of a sealed file.
const MAGIC: &[u8; 8] = b"ONSBLOB1";
const NONCE: usize = 24;

/// The key photo files are sealed with, derived from the database's key.
#[derive(Clone)]
pub(crate) struct BlobKey(chacha20poly1305::Key);

impl std::fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobKey(…)")
    }
}

impl BlobKey {
    pub(crate) fn derive(key: &DbKey) -> BlobKey {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"onsite"), key.bytes());
        let mut out = chacha20poly1305::Key::default();
        // 32 bytes are far below HKDF-SHA256's limit of 8,160: this cannot fail.
        let _ = hk.expand(b"photo files v1", &mut out);
        BlobKey(out)
    }

    fn seal(&self, sha256: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let cipher = XChaCha20Poly1305::new(&self.0);
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: sha256.as_bytes(),
                },
            )
            .map_err(|_| StoreError::BadData {
                what: format!("photo {sha256}"),
                detail: "it could not be encrypted".into(),
            })?;
        let mut file = Vec::with_capacity(MAGIC.len() + NONCE + sealed.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&nonce);
        file.extend_from_slice(&sealed);
        Ok(file)
    }

    fn open(&self, sha256: &str, file: &[u8]) -> Result<Vec<u8>> {
        let broken = || StoreError::BadData {
            what: format!("photo {sha256}"),
            detail: "its file was changed or does not belong to this laptop's database".into(),
        };
        let rest = file.strip_prefix(MAGIC.as_slice()).ok_or_else(broken)?;
        if rest.len() < NONCE {
            return Err(broken());
        }
        let (nonce, sealed) = rest.split_at(NONCE);
        XChaCha20Poly1305::new(&self.0)
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: sha256.as_bytes(),
                },
            )
            .map_err(|_| broken())
    }
}

/// A file error, or the disk-full error the engineer is told how to deal with.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| {
        if source.kind() == std::io::ErrorKind::StorageFull {
            StoreError::DiskFull
        } else {
            StoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

fn is_hash(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Writes `bytes` to `path` durably: a temporary file synced, renamed, the folder synced.
fn write_durably(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!("{name}.part"));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        // A full disk leaves a piece: it goes, so as not to hold the room still left.
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    // The new name is durable once the folder is.
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().map_err(io(dir))?;
    }
    Ok(())
}

/// The folder of a database's photos: `<name>-blobs` beside `<name>.db`, one per database
/// (two laptops' databases in one folder, as in tests, do not share their files).
pub(crate) fn blob_dir(db: &Path) -> PathBuf {
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "onsite".into());
    db.parent()
        .unwrap_or_else(|| Path::new("."))
        .join(format!("{stem}-blobs"))
}

impl Store {
    fn blob_dir(&self) -> PathBuf {
        blob_dir(&self.path)
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blob_dir().join(sha256)
    }

    /// At open: the photos of an earlier version are brought under this database's own
    /// folder (they were in `blobs/`, shared by whatever database sat beside it) and, when
    /// the database is encrypted, every plain file is sealed, once: written sealed beside,
    /// synced, renamed over the plain one.
    pub(crate) fn seal_blobs_at_open(&self) -> Result<()> {
        let dir = self.blob_dir();
        let legacy = self
            .path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("blobs");
        if legacy.is_dir() && !dir.exists() {
            std::fs::rename(&legacy, &dir).map_err(io(&legacy))?;
        }
        let Some(key) = &self.blob_key else {
            return Ok(());
        };
        if meta_get(&self.conn, "blobs_sealed")?.as_deref() == Some("1") {
            return Ok(());
        }
        if dir.is_dir() {
            for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let path = entry.map_err(io(&dir))?.path();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !is_hash(&name) {
                    continue;
                }
                let bytes = std::fs::read(&path).map_err(io(&path))?;
                if bytes.starts_with(MAGIC) {
                    continue;
                }
                write_durably(&dir, &path, &key.seal(&name, &bytes)?)?;
            }
        }
        meta_set(&self.conn, "blobs_sealed", "1")
    }

    /// Keeps `bytes` (a photo, a signature image) and returns their SHA-256, the name a
    /// record refers to them by. On disk, sealed if the database is encrypted, synced,
    /// when this returns.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        let dir = self.blob_dir();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = self.blob_path(&sha);
        if path.is_file() {
            return Ok(sha);
        }
        match &self.blob_key {
            Some(key) => write_durably(&dir, &path, &key.seal(&sha, bytes)?)?,
            None => write_durably(&dir, &path, bytes)?,
        }
        Ok(sha)
    }

    /// The bytes of a kept blob, checked against their name; `None` if it is not here.
    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        if !is_hash(sha256) {
            return Ok(None);
        }
        let path = self.blob_path(sha256);
        let file = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        // A plain file (kept before the database was encrypted, sealed at the next open)
        // is read as it is: its hash vouches for it.
        let bytes = match (&self.blob_key, file.starts_with(MAGIC)) {
            (Some(key), true) => key.open(sha256, &file)?,
            (None, true) => {
                return Err(StoreError::BadData {
                    what: format!("photo {sha256}"),
                    detail: "it is encrypted and this database is opened without a key".into(),
                });
            }
            (_, false) => file,
        };
        if sha256_hex(&bytes) != sha256 {
            return Err(StoreError::BadData {
                what: format!("photo {sha256}"),
                detail: "its bytes no longer match their hash".into(),
            });
        }
        Ok(Some(bytes))
    }

    /// The blobs that operations waiting to be sent refer to and that the server has not
    /// confirmed yet: the sync engine uploads these before it pushes. Taken from the
    /// operation itself when it carries the hash (an appended photo does), so that one
    /// sent again after a server restore still brings its bytes when the laptop no longer
    /// shows the record (its order was taken away meanwhile). Not sent: the bytes of a
    /// record that a waiting correction voids (a photo replaced by its copy to send), and
    /// blobs held back ([`Store::hold_blob`]).
    pub fn blobs_to_upload(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            // The voided ids are read once (a list SQLite builds before the walk), not
            // by a scan of the outbox for each of its rows: after weeks offline it holds
            // thousands of operations and this runs every sync cycle.
            "WITH voided AS (SELECT json_extract(op, '$.fields.voids') AS id FROM outbox
                              WHERE entity IN ('attachment', 'signature')
                                AND json_extract(op, '$.fields.voids') IS NOT NULL)
             SELECT coalesce(json_extract(o.op, '$.fields.sha256'), json_extract(r.body, '$.sha256')) AS sha
               FROM outbox o
               LEFT JOIN record r ON r.entity = o.entity AND r.id = o.record_id
              WHERE o.entity IN ('attachment', 'signature') AND sha IS NOT NULL
                AND o.record_id NOT IN (SELECT id FROM voided)
                AND NOT EXISTS (SELECT 1 FROM meta h WHERE h.key = 'blob_hold.' || sha)
              GROUP BY sha ORDER BY MIN(o.seq)",
        )?;
        let hashes = stmt
            .query_map(params![], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        let mut out = Vec::new();
        for h in hashes {
            if meta_get(&self.conn, &format!("blob_sent.{h}"))?.is_none() {
                out.push(h);
            }
        }
        Ok(out)
    }

    /// Keeps a blob from being sent until [`Store::release_blob`]: a photo kept at its
    /// full size while the copy to send is being made. `record` names the record that
    /// refers to it, so that a copy interrupted by a crash is made at the next start
    /// ([`Store::held_blobs`]).
    pub fn hold_blob(&self, sha256: &str, record: Uuid) -> Result<()> {
        meta_set(
            &self.conn,
            &format!("blob_hold.{sha256}"),
            &record.to_string(),
        )
    }

    /// Lets a held blob go (sent if a standing record still refers to it).
    pub fn release_blob(&self, sha256: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM meta WHERE key = ?1")?
            .execute(params![format!("blob_hold.{sha256}")])?;
        Ok(())
    }

    /// The held blobs, each with the record that refers to it.
    pub fn held_blobs(&self) -> Result<Vec<(String, Uuid)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT substr(key, 11), value FROM meta WHERE key LIKE 'blob_hold.%' ORDER BY key",
        )?;
        let rows = stmt
            .query_map(params![], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(sha, id)| Some((sha, Uuid::parse_str(&id).ok()?)))
            .collect())
    }

    /// Notes that the server has the blob (it answered 200 or 201 to its upload).
    pub fn blob_uploaded(&self, sha256: &str) -> Result<()> {
        meta_set(&self.conn, &format!("blob_sent.{sha256}"), "1")
    }
}
