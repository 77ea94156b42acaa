//! Photos and signature images: files named by their SHA-256 in `blobs/` beside the
//! database, written durably before the record that references them, and uploaded by the
//! sync engine before that record is pushed.

use std::io::Write;
use std::path::PathBuf;

use onsite_domain::signature::sha256_hex;
use rusqlite::params;

use crate::{Result, Store, StoreError, meta_get, meta_set};

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    fn blob_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(|p| p.join("blobs"))
            .unwrap_or_else(|| PathBuf::from("blobs"))
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blob_dir().join(sha256)
    }

    /// Keeps `bytes` (a photo, a signature image) and returns their SHA-256, the name a
    /// record refers to them by. On disk, synced, when this returns.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        let dir = self.blob_dir();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = self.blob_path(&sha);
        if path.is_file() {
            return Ok(sha);
        }
        let tmp = dir.join(format!("{sha}.part"));
        {
            let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        // The new name is durable once the folder is.
        if let Ok(d) = std::fs::File::open(&dir) {
            d.sync_all().map_err(io(&dir))?;
        }
        Ok(sha)
    }

    /// The bytes of a kept blob, checked against their name; `None` if it is not here.
    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let path = self.blob_path(sha256);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
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
    /// shows the record (its order was taken away meanwhile).
    pub fn blobs_to_upload(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT coalesce(json_extract(o.op, '$.fields.sha256'), json_extract(r.body, '$.sha256')) AS sha
               FROM outbox o
               LEFT JOIN record r ON r.entity = o.entity AND r.id = o.record_id
              WHERE o.entity IN ('attachment', 'signature') AND sha IS NOT NULL
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

    /// Notes that the server has the blob (it answered 200 or 201 to its upload).
    pub fn blob_uploaded(&self, sha256: &str) -> Result<()> {
        meta_set(&self.conn, &format!("blob_sent.{sha256}"), "1")
    }
}
