//! The real `onsite-sync-server` binary as a child process, so that a test can kill it
//! with SIGKILL at any moment and start it again on the same port and database.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or killed) server process.
#[derive(Debug)]
pub struct ServerProcess {
    pub db: PathBuf,
    pub addr: SocketAddr,
    child: Option<Child>,
    /// Its standard error (warnings and errors), outside the database's disk: what it said
    /// when it could not start.
    log: Option<tempfile::NamedTempFile>,
}

/// `target/<profile>/onsite-sync-server`, next to the running test's own directory.
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ONSITE_SERVER_BIN") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().and_then(Path::parent).map(Path::to_path_buf))
        .map(|dir| dir.join("onsite-sync-server"))
        .unwrap_or_else(|| PathBuf::from("onsite-sync-server"))
}

impl ServerProcess {
    /// Starts the server over `db` on a free loopback port.
    pub fn start(db: &Path) -> ServerProcess {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let mut s = ServerProcess {
            db: db.to_path_buf(),
            addr,
            child: None,
            log: tempfile::NamedTempFile::new().ok(),
        };
        s.restart();
        s
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Started and not killed by the test (it may have died on its own: see `exited`).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// How the process ended, if it ended by itself (a crash, a failed start), with the
    /// last lines it wrote to standard error.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some(format!(
            "the server exited by itself ({status}): {}",
            self.said()
        ))
    }

    /// The last lines the server wrote to standard error.
    pub fn said(&self) -> String {
        let text = self
            .log
            .as_ref()
            .and_then(|l| std::fs::read_to_string(l.path()).ok())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    /// SIGKILL: no shutdown, no flush beyond what SQLite already made durable.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it (again) on the same address and database; waits until it listens.
    pub fn restart(&mut self) {
        if let Err(e) = self.try_restart() {
            panic!("{e}");
        }
    }

    /// Starts it (again) and waits until it listens; or what it said when it stopped
    /// because it cannot open its database (a full disk), or that it did not listen
    /// within 20 s.
    pub fn try_restart(&mut self) -> Result<(), String> {
        self.kill9();
        let bin = server_binary();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let stderr = self
                .log
                .as_ref()
                .and_then(|l| l.reopen().ok())
                .and_then(|f| {
                    f.set_len(0).ok()?;
                    Some(Stdio::from(f))
                })
                .unwrap_or_else(Stdio::null);
            let child = Command::new(&bin)
                .args(["serve", "--listen", &self.addr.to_string(), "--db"])
                .arg(format!("sqlite://{}", self.db.display()))
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
            self.child = Some(child);
            while Instant::now() < deadline {
                if TcpStream::connect(self.addr).is_ok() {
                    return Ok(());
                }
                if let Some(c) = self.child.as_mut()
                    && let Ok(Some(_)) = c.try_wait()
                {
                    // The port may still be held by the killed process for a moment: then
                    // it tries again; a database it cannot open is the answer.
                    let said = self
                        .log
                        .as_ref()
                        .and_then(|l| std::fs::read_to_string(l.path()).ok())
                        .unwrap_or_default();
                    if said.contains("opening sqlite://") {
                        self.child = None;
                        return Err(said.trim().to_owned());
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the server did not listen on {} within 20 s",
                    self.addr
                ));
            }
            self.child = None;
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
