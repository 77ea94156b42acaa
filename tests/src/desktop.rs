//! The desktop app in a real window, for end-to-end tests: a private Xvfb display,
//! `tauri-driver` over Debian's `WebKitWebDriver`, and the built `onsite` binary. Every
//! process started here is killed when the [`Desktop`] is dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Xvfb and tauri-driver, running.
#[derive(Debug)]
pub struct Desktop {
    xvfb: Child,
    driver: Child,
    pub display: String,
    /// The WebDriver address (`http://127.0.0.1:PORT`).
    pub webdriver: String,
    pub app: PathBuf,
}

/// Why the desktop cannot start, with what to do.
#[derive(Debug)]
pub struct Missing(pub String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn free_port() -> Result<u16, Missing> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Missing(format!("no free loopback port: {e}")))
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The `onsite` binary next to this test's own (`target/<profile>/onsite`), or
/// `ONSITE_DESKTOP_BIN`.
pub fn app_binary() -> Result<PathBuf, Missing> {
    if let Some(p) = std::env::var_os("ONSITE_DESKTOP_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| Missing(e.to_string()))?;
    // target/debug/deps/e2e-HASH → target/debug/onsite
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| Missing(format!("unexpected test path {}", exe.display())))?;
    let app = profile_dir.join("onsite");
    if app.is_file() {
        Ok(app)
    } else {
        Err(Missing(format!(
            "the desktop app is not built at {}: run `cargo build -p onsite-desktop` (after `npm run build` in ui/)",
            app.display()
        )))
    }
}

impl Desktop {
    /// Starts a private display and the WebDriver bridge. `env` reaches the app (its data
    /// folder, its default server).
    pub fn start(env: &[(&str, String)]) -> Result<Desktop, Missing> {
        let app = app_binary()?;
        let xvfb_bin = which("Xvfb")
            .ok_or_else(|| Missing("Xvfb is not installed: run `cargo xtask setup`".into()))?;
        let driver_bin = which("tauri-driver").ok_or_else(|| {
            Missing("tauri-driver is not installed: run `cargo xtask setup`".into())
        })?;
        let native = which("WebKitWebDriver").ok_or_else(|| {
            Missing(
                "WebKitWebDriver is not installed (webkit2gtk-driver): run `cargo xtask setup`"
                    .into(),
            )
        })?;
        // Xvfb picks a free display and writes its number on fd 1.
        let mut xvfb = Command::new(xvfb_bin)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Missing(format!("Xvfb does not start: {e}")))?;
        let mut line = String::new();
        if let Some(out) = xvfb.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let number = line.trim();
        if number.is_empty() {
            let _ = xvfb.kill();
            return Err(Missing("Xvfb did not report its display".into()));
        }
        let display = format!(":{number}");
        let port = free_port()?;
        let native_port = free_port()?;
        let mut cmd = Command::new(driver_bin);
        // Its own process group: tauri-driver starts WebKitWebDriver, which starts the app;
        // dropping the desktop ends all three (killing tauri-driver alone left the others).
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .arg("--native-driver")
        .arg(native)
        .env("DISPLAY", &display)
        // No accessibility bus, no GPU under Xvfb.
        .env("NO_AT_BRIDGE", "1")
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = match cmd.spawn() {
            Ok(d) => d,
            Err(e) => {
                let _ = xvfb.kill();
                return Err(Missing(format!("tauri-driver does not start: {e}")));
            }
        };
        let desktop = Desktop {
            xvfb,
            driver,
            display,
            webdriver: format!("http://127.0.0.1:{port}"),
            app,
        };
        // Ready when it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(Missing("tauri-driver did not listen within 20 s".into()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(desktop)
    }

    /// From now on the app starts with its clock `offset` off (libfaketime's syntax:
    /// `+3h`, `-2d`), as on a laptop whose time was set wrong: a script in `dir` starts it
    /// under `LD_PRELOAD`. Monotonic clocks (timers) stay true.
    pub fn with_clock_off(mut self, offset: &str, dir: &Path) -> Result<Desktop, Missing> {
        let library = [
            "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
            "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| Missing("libfaketime is not installed: run `cargo xtask setup`".into()))?;
        let script = dir.join("onsite-clock-off");
        let text = format!(
            "#!/bin/sh\nexport LD_PRELOAD='{}' FAKETIME='{offset}' FAKETIME_DONT_FAKE_MONOTONIC=1\nexec '{}' \"$@\"\n",
            library.display(),
            self.app.display()
        );
        std::fs::write(&script, text).map_err(|e| Missing(format!("{}: {e}", script.display())))?;
        let mut permissions = std::fs::metadata(&script)
            .map_err(|e| Missing(e.to_string()))?
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&script, permissions).map_err(|e| Missing(e.to_string()))?;
        self.app = script;
        Ok(self)
    }

    /// The W3C capabilities that make tauri-driver start the app.
    pub fn capabilities(&self) -> serde_json::Map<String, serde_json::Value> {
        let caps = serde_json::json!({
            "browserName": "wry",
            "tauri:options": {"application": self.app},
        });
        match caps {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        for signal in ["-TERM", "-KILL"] {
            let _ = Command::new("kill")
                .args([signal, "--", &group])
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}
