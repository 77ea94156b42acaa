//! A small disk of its own for a server process (a tmpfs mounted in the test's directory),
//! so that a test can fill it up for real: SQLite, the WAL and the high-water file all meet
//! ENOSPC from the kernel, as on a server whose volume is full.
//!
//! Mounting needs root (CAP_SYS_ADMIN), which CI and `cargo xtask test` have; elsewhere
//! `SmallDisk::mount` says why it could not, and the caller runs without that fault.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    pub path: PathBuf,
    filler: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `megabytes` at `path` (created if missing).
    pub fn mount(path: &Path, megabytes: u32) -> Result<SmallDisk, String> {
        std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m")])
            .arg("tmpfs")
            .arg(path)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallDisk {
            path: path.to_path_buf(),
            filler: path.join("filler"),
        })
    }

    /// Fills the disk: a file of zeros grows until the kernel answers ENOSPC.
    pub fn fill(&self) -> Result<(), String> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .map_err(|e| format!("the filler file: {e}"))?;
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => return Ok(()),
                Err(e) => return Err(format!("filling the disk: {e}")),
            }
        }
    }

    /// Makes room again.
    pub fn free(&self) -> Result<(), String> {
        match std::fs::remove_file(&self.filler) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("removing the filler file: {e}")),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: a server still dying keeps its files open for a moment.
        let _ = Command::new("umount").arg("-l").arg(&self.path).output();
    }
}

/// Whether this process may mount a small disk (tried once).
pub fn can_mount() -> bool {
    static CAN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CAN.get_or_init(|| {
        tempfile::tempdir()
            .ok()
            .is_some_and(|dir| SmallDisk::mount(&dir.path().join("probe"), 1).is_ok())
    })
}
