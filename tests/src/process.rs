//! The real `onsite-sync-server` binary as a child process, so that a test can kill it
//! with SIGKILL at any moment and start it again on the same database (and port, unless another process took it).

use std::net::{SocketAddr, TcpListener};
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
        let addr = free_port();
        let mut s = ServerProcess {
            db: db.to_path_buf(),
            addr,
            child: None,
            log: Some(tempfile::NamedTempFile::new().expect("a temporary file for its log")),
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
        let text = self.whole_log();
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

    /// Starts it (again) and waits until it says it listens; or what it said when it
    /// stopped because it cannot open its database (a full disk), or that it did not
    /// listen within 20 s.
    ///
    /// While the server was down, another process may have taken its port (parallel soak
    /// processes start and kill servers all the time, and outgoing connections take local
    /// ports too). Connecting is then no proof that *this* server is up — it may be another
    /// seed's server with the same users — so readiness is the server's own "ready,
    /// listening on" line; and a port still taken after a second moves the server to a
    /// new one: `addr` changes, and whoever fronts it (a `FaultProxy`) must follow.
    pub fn try_restart(&mut self) -> Result<(), String> {
        self.kill9();
        let bin = server_binary();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut taken_since: Option<Instant> = None;
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
                .env("RUST_LOG", "warn,onsite_sync_server=info")
                .env("NO_COLOR", "1")
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
            self.child = Some(child);
            let ready = format!("ready, listening on http://{}", self.addr);
            while Instant::now() < deadline {
                let said = self.whole_log();
                if said.contains(&ready) {
                    return Ok(());
                }
                if let Some(c) = self.child.as_mut()
                    && let Ok(Some(_)) = c.try_wait()
                {
                    let said = self.whole_log();
                    // A database it cannot open is the answer.
                    if said.contains("opening sqlite://") {
                        self.child = None;
                        return Err(said.trim().to_owned());
                    }
                    // The port may still be held by the killed process for a moment: try
                    // again; held for longer, it is someone else's now.
                    if said.contains("in use") {
                        let since = *taken_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_secs(1) {
                            self.addr = free_port();
                            taken_since = None;
                        }
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the server did not listen on {} within 20 s: {}",
                    self.addr,
                    self.said()
                ));
            }
            self.child = None;
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn whole_log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|l| std::fs::read_to_string(l.path()).ok())
            .unwrap_or_default()
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
