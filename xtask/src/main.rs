//! The project's developer commands, in Rust so that they run wherever cargo does:
//!
//! - `cargo xtask setup`: installs what a fresh Debian/Ubuntu machine lacks (system
//!   packages for the desktop app and its tests, tauri-driver, the UI's npm packages);
//! - `cargo xtask run`: setup, then the demo server on loopback and the desktop app
//!   pointed at it, with the demo logins printed;
//! - `cargo xtask test`: setup, the UI build, type check and unit tests, formatting,
//!   clippy and every Rust test (end-to-end tests in a real window included), ending
//!   with one line `xtask: N passed, N failed, N skipped`;
//! - `cargo xtask bench`: the benchmarks, which print their figures;
//! - `cargo xtask bindings`: writes the UI's TypeScript types from the Rust types.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <setup | run | test | bench | bindings | soak>

  setup     install what this machine lacks to build, run and test Onsite (Debian/Ubuntu)
  run       setup, start the demo server on 127.0.0.1:8787 and open the desktop app on it
            (--fresh: start from new demo data; --port N: another port)
  test      setup, then the UI checks and tests, cargo fmt --check, clippy -D warnings,
            and every test, end-to-end tests in a real window included
  bench     run the benchmarks and print their figures (release build)
  bindings  write the UI's TypeScript types (ui/src/lib/bindings) from the Rust types
  soak      the fault-injection harness over many seeds: --seeds N (seeds 1..=N, default 200),
            --seeds A..B (a range), or --seed S (one seed, to rerun a failure)";

/// Debian packages: a C toolchain for the bundled SQLite; WebKitGTK and friends for the
/// desktop shell; Xvfb and WebKitWebDriver for tests in a real window; poppler, qpdf,
/// fonts and ImageMagick for the printed documents and screenshots.
const APT_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libssl-dev",
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "poppler-utils",
    "qpdf",
    "fonts-noto-cjk",
    "imagemagick",
    // A headless Secret Service for the keyring the app keeps its database key in.
    "dbus-daemon",
    "gnome-keyring",
    // schemathesis runs in a virtual environment (`install_schemathesis`).
    "python3-venv",
    // The window test of a laptop whose clock is off (LD_PRELOAD libfaketime on the app).
    "faketime",
];
/// Toolchain components the checks need.
const RUSTUP_COMPONENTS: &[&str] = &["rustfmt", "clippy"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("run") => run_demo(&args[1..]),
        Some("test") => test(),
        Some("bench") => bench(&args[1..]),
        Some("bindings") => bindings(),
        Some("soak") => soak(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// `cmd` run inside a private D-Bus session with a headless Secret Service (gnome-keyring)
/// unlocked, its keyrings in `home`: the desktop app keeps its database key in the system
/// keyring, and a server or CI has none.
fn in_keyring_session(cmd: &Command, home: &Path) -> Result<Command> {
    std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let mut wrapped = Command::new("dbus-run-session");
    wrapped.args([
        "--",
        "sh",
        "-c",
        "printf onsite | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1; exec \"$@\"",
        "sh",
    ]);
    wrapped.arg(cmd.get_program()).args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    // gnome-keyring keeps its keyrings under $XDG_DATA_HOME/keyrings.
    wrapped.env("XDG_DATA_HOME", home);
    Ok(wrapped)
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// The workspace root (cargo sets `CARGO_MANIFEST_DIR` for `cargo run`; the path is read
/// at run time, so a binary built in another checkout still works on this one).
fn root() -> PathBuf {
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(|d| PathBuf::from(d).join(".."))
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    root.canonicalize().unwrap_or(root)
}

fn ui_dir() -> PathBuf {
    root().join("ui")
}

fn npm() -> Command {
    let mut c = Command::new("npm");
    c.current_dir(ui_dir());
    c
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn found(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn apt_install(packages: &[&str]) -> Result<()> {
    let sudo = !is_root();
    let apt = |args: &[&str]| {
        let mut c = Command::new(if sudo { "sudo" } else { "apt-get" });
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(packages);
    run(&mut install)
}

/// schemathesis (PyPI), run by the server's `schemathesis` test against `/openapi.json`.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// Where `setup` puts schemathesis: a virtual environment in the target directory.
fn schemathesis() -> PathBuf {
    target_dir().join("schemathesis/bin/schemathesis")
}

/// Installs schemathesis in its virtual environment, unless that version is there.
fn install_schemathesis() -> Result<()> {
    let venv = target_dir().join("schemathesis");
    let stamp = venv.join("onsite-installed");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == SCHEMATHESIS)
        && schemathesis().is_file()
    {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
        .context("python3 -m venv: install python3 and python3-venv")?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        SCHEMATHESIS,
    ]))?;
    std::fs::write(&stamp, SCHEMATHESIS).context("writing the schemathesis stamp")?;
    Ok(())
}

fn setup() -> Result<()> {
    let debian = Command::new("dpkg-query")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if debian {
        let mut missing: Vec<&str> = APT_PACKAGES
            .iter()
            .copied()
            .filter(|p| !installed(p))
            .collect();
        if found("npm").is_none() {
            missing.extend(["nodejs", "npm"]);
        }
        if !missing.is_empty() {
            apt_install(&missing)?;
        }
    } else {
        eprintln!(
            "xtask: not a Debian/Ubuntu machine; install a C compiler, pkg-config, WebKitGTK 4.1, Xvfb, WebKitWebDriver and Node.js yourself"
        );
    }
    if Command::new("rustup")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        run(Command::new("rustup")
            .args(["component", "add"])
            .args(RUSTUP_COMPONENTS))?;
    }
    if found("tauri-driver").is_none() {
        run(cargo().args(["install", "tauri-driver", "--locked"]))?;
    }
    install_schemathesis()?;
    npm_install()
}

/// `npm ci` when the UI's packages are missing or older than the lock file.
fn npm_install() -> Result<()> {
    let lock = ui_dir().join("package-lock.json");
    let installed = ui_dir().join("node_modules/.package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = match (modified(&lock), modified(&installed)) {
        (Some(l), Some(i)) => i >= l,
        _ => false,
    };
    if !fresh {
        run(npm().args(["ci", "--no-audit", "--no-fund"]))?;
    }
    Ok(())
}

/// Builds the UI into ui/dist, which the desktop shell embeds when it compiles.
fn build_ui() -> Result<()> {
    run(npm().args(["run", "build"]))
}

/// Whether we run as root, read from `id -u` (no unsafe code for `geteuid`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Counts of `test result:` lines.
#[derive(Debug, Default)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    /// Adds vitest's JSON report (`numPassedTests`, …).
    fn add_vitest(&mut self, json: &str) -> Result<()> {
        let v: serde_json::Value =
            serde_json::from_str(json).context("vitest's report is not JSON")?;
        let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        self.passed += n("numPassedTests");
        self.failed += n("numFailedTests");
        self.ignored += n("numPendingTests") + n("numTodoTests");
        Ok(())
    }

    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// The UI's type check and unit tests; vitest's counts join the tally.
fn test_ui(tally: &mut Tally) -> Result<()> {
    run(npm().args(["run", "check"]))?;
    let report = std::env::temp_dir().join(format!("onsite-vitest-{}.json", std::process::id()));
    let status = npm()
        .args([
            "exec",
            "--",
            "vitest",
            "run",
            "--reporter=default",
            "--reporter=json",
        ])
        .arg(format!("--outputFile.json={}", report.display()))
        .status()
        .context("could not start vitest")?;
    let json = std::fs::read_to_string(&report)
        .with_context(|| format!("vitest wrote no report at {}", report.display()))?;
    let _ = std::fs::remove_file(&report);
    tally.add_vitest(&json)?;
    if !status.success() {
        bail!("the UI tests failed ({status})");
    }
    Ok(())
}

fn test() -> Result<()> {
    setup()?;
    let started = Instant::now();
    let mut tally = Tally::default();
    // The desktop shell embeds ui/dist at compile time: build it before clippy does.
    build_ui()?;
    let ui = test_ui(&mut tally);
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The domain is also built on its own (the receipt bench, the server's dependents):
    // a feature it uses but only gets from another crate in the workspace fails here.
    run(cargo().args(["check", "--locked", "-p", "onsite-domain", "--lib"]))?;
    let mut tests = cargo();
    tests
        .args(["test", "--workspace", "--locked", "--no-fail-fast"])
        .env("ONSITE_SCHEMATHESIS", schemathesis());
    let mut cmd = in_keyring_session(&tests, &target_dir().join("keyring"))?;
    cmd.stdout(Stdio::piped());
    eprintln!("xtask: running {cmd:?}");
    let mut child = cmd.spawn().context("could not start cargo test")?;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.context("reading cargo test output")?;
            println!("{line}");
            tally.add_line(&line);
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    println!(
        "xtask: {} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.ignored
    );
    eprintln!("xtask: took {:.0} s", started.elapsed().as_secs_f64());
    ui?;
    if !status.success() || tally.failed > 0 {
        bail!("tests failed ({status})");
    }
    if tally.passed == 0 {
        bail!("no test ran");
    }
    Ok(())
}

/// The demo: server on loopback with demo data, and the desktop app pointed at it.
fn run_demo(args: &[String]) -> Result<()> {
    let mut port: u16 = 8787;
    let mut fresh = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--fresh" => fresh = true,
            "--port" => {
                port = it
                    .next()
                    .and_then(|p| p.parse().ok())
                    .context("--port needs a port number, e.g. --port 8788")?;
            }
            other => bail!("unknown option {other}\n\n{USAGE}"),
        }
    }
    setup()?;
    build_ui()?;
    run(cargo().args([
        "build",
        "--locked",
        "-p",
        "onsite-sync-server",
        "-p",
        "onsite-desktop",
    ]))?;
    let demo = root().join(".demo");
    if fresh && demo.exists() {
        std::fs::remove_dir_all(&demo).with_context(|| format!("removing {}", demo.display()))?;
    }
    std::fs::create_dir_all(&demo).with_context(|| format!("creating {}", demo.display()))?;
    let bin = target_dir().join("debug");
    let listen = format!("127.0.0.1:{port}");
    let mut server = Command::new(bin.join("onsite-sync-server"))
        .args(["serve", "--listen", &listen, "--demo", "--db"])
        .arg(format!("sqlite://{}", demo.join("server.db").display()))
        .spawn()
        .context("could not start the sync server")?;
    let ready = wait_for_port(port, Duration::from_secs(30));
    let result = (|| {
        if !ready {
            bail!(
                "the sync server did not listen on {listen} within 30 s (is the port taken? try --port 8788)"
            );
        }
        let url = format!("http://{listen}");
        println!();
        println!("Onsite demo — server {url}, data in {}", demo.display());
        println!("  sign in as an engineer: wanggong (王工), ligong (李工) or zhanggong (张工)");
        println!("  password: onsite-demo");
        println!("  (dispatcher: dispatch, admin: admin, same password)");
        println!();
        let mut app = Command::new(bin.join("onsite"));
        app.env("ONSITE_SERVER", &url)
            .env("ONSITE_DATA_DIR", demo.join("laptop"))
            .env("ONSITE_DEMO_LOGINS", "wanggong,ligong,zhanggong")
            .env("ONSITE_DEMO_PASSWORD", "onsite-demo");
        let _xvfb = if std::env::var_os("DISPLAY").is_none()
            && std::env::var_os("WAYLAND_DISPLAY").is_none()
        {
            // No screen (a server, CI): run the window on a virtual display.
            let display = ":99";
            eprintln!(
                "xtask: no DISPLAY; the window opens on the virtual display {display} (Xvfb)"
            );
            app.env("DISPLAY", display);
            Some(Killed(
                Command::new("Xvfb")
                    .args([display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                    .spawn()
                    .context("could not start Xvfb")?,
            ))
        } else {
            None
        };
        // Without a session bus (a server, CI) the app gets a keyring of its own.
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            app = in_keyring_session(&app, &demo.join("keyring"))?;
        }
        run(&mut app)
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// A child process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn wait_for_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// The harness of tests/tests/harness.rs over many seeds (its CI run takes three).
fn soak(args: &[String]) -> Result<()> {
    let usage =
        "usage: cargo xtask soak [--seeds N | --seeds A..B | --seed S] [--jobs J] [--release]";
    let mut first: u64 = 1;
    let mut last: u64 = 200;
    // Seeds run in this many processes at once: a seed mostly waits (restarts, delays,
    // timeouts), so twice the cores keeps them busy.
    let mut jobs: u64 = std::thread::available_parallelism()
        .map(|n| n.get() as u64 * 2)
        .unwrap_or(4);
    // Optimised code: a long soak is CPU-bound.
    let release = args.iter().any(|a| a == "--release");
    let mut rest = args.iter().filter(|a| *a != "--release");
    while let Some(flag) = rest.next() {
        let value = rest.next().context(usage)?;
        // `--seeds A..B`: a range, to go on from where a run stopped.
        if flag == "--seeds"
            && let Some((a, b)) = value.split_once("..")
        {
            first = a
                .parse()
                .with_context(|| format!("--seeds {value}: {usage}"))?;
            last = b
                .parse()
                .with_context(|| format!("--seeds {value}: {usage}"))?;
            if first == 0 || first > last {
                bail!("--seeds {value}: from 1 up, the first no greater than the last");
            }
            continue;
        }
        let n: u64 = value
            .parse()
            .with_context(|| format!("{flag} needs a number: {usage}"))?;
        match flag.as_str() {
            "--seeds" => (first, last) = (1, n),
            "--seed" => (first, last) = (n, n),
            "--jobs" => jobs = n.max(1),
            _ => bail!("{usage}"),
        }
    }
    let started = Instant::now();
    // The harness runs the server binary; then build the test once for every process.
    let profile: &[&str] = if release { &["--release"] } else { &[] };
    run(cargo()
        .args(["build", "--locked", "-p", "onsite-sync-server"])
        .args(profile))?;
    let test = |spec: &str| {
        let mut c = cargo();
        c.args(["test", "--locked"])
            .args(profile)
            .args([
                "-p",
                "onsite-tests",
                "--test",
                "harness",
                "--",
                "--ignored",
                "--nocapture",
                "soak",
            ])
            .env("ONSITE_SEEDS", spec);
        c
    };
    run(cargo().args(["test", "--locked"]).args(profile).args([
        "-p",
        "onsite-tests",
        "--test",
        "harness",
        "--no-run",
    ]))?;
    let count = last - first + 1;
    let jobs = jobs.min(count);
    let per = count.div_ceil(jobs);
    let mut children = Vec::new();
    for j in 0..jobs {
        let a = first + j * per;
        let b = (a + per - 1).min(last);
        if a > b {
            break;
        }
        let spec = format!("{a}..{b}");
        let child = test(&spec)
            .stderr(Stdio::inherit())
            .stdout(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting the soak of seeds {spec}"))?;
        children.push((spec, child));
    }
    let mut failed = Vec::new();
    for (spec, mut child) in children {
        let status = child.wait().context("waiting for a soak process")?;
        if !status.success() {
            failed.push(spec);
        }
    }
    let took = started.elapsed().as_secs_f64();
    if !failed.is_empty() {
        bail!(
            "the soak of seeds {first}..{last} failed in the ranges {failed:?} ({took:.0} s): each failing seed is printed above with its rerun command"
        );
    }
    eprintln!(
        "xtask: soak of seeds {first}..{last} passed in {took:.0} s ({jobs} processes, {:.2} s a seed)",
        took / count as f64
    );
    Ok(())
}

/// Regenerates ui/src/lib/bindings from the Rust types (the bindings test, in write mode).
fn bindings() -> Result<()> {
    run(cargo()
        .args(["test", "--locked", "-p", "onsite-app", "--test", "bindings"])
        .env("UPDATE_BINDINGS", "1"))
}

fn bench(extra: &[String]) -> Result<()> {
    run(cargo()
        .args([
            "bench",
            "--locked",
            "-p",
            "onsite-store",
            "--bench",
            "store",
        ])
        .args(extra))?;
    run(cargo().args([
        "bench",
        "--locked",
        "-p",
        "onsite-receipt",
        "--bench",
        "receipt",
    ]))?;
    // The order screen's use cases with 10,000 orders on the laptop.
    run(cargo().args(["bench", "--locked", "-p", "onsite-app", "--bench", "screen"]))?;
    // The sync benchmark runs the real server binary's code in-process, over loopback.
    run(cargo().args(["bench", "--locked", "-p", "onsite-tests", "--bench", "sync"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ARCHITECTURE.md: `domain` does no I/O. Its dependency tree must not hold a crate
    /// that reaches the disk, the network, the OS clock or its random source.
    #[test]
    fn the_domain_crate_depends_on_nothing_that_does_io() {
        let out = cargo()
            .args([
                "tree",
                "--locked",
                "-p",
                "onsite-domain",
                "-e",
                "normal",
                "--prefix",
                "none",
            ])
            .output()
            .expect("cargo tree runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        let crates: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(crates.contains(&"serde"), "the tree was read: {tree}");
        for forbidden in [
            "rusqlite",
            "libsqlite3-sys",
            "tokio",
            "reqwest",
            "hyper",
            "mio",
            "getrandom",
            "iana-time-zone",
            "onsite-store",
        ] {
            assert!(
                !crates.contains(&forbidden),
                "onsite-domain depends on {forbidden}:\n{tree}"
            );
        }
    }

    #[test]
    fn test_result_lines_are_summed() {
        let mut t = Tally::default();
        t.add_line("test result: ok. 49 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.04s");
        t.add_line("test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.00s");
        t.add_line("running 3 tests");
        assert_eq!((t.passed, t.failed, t.ignored), (52, 2, 1));
        t.add_vitest(r#"{"numPassedTests": 10, "numFailedTests": 1, "numPendingTests": 2, "numTodoTests": 0}"#)
            .expect("reads");
        assert_eq!((t.passed, t.failed, t.ignored), (62, 3, 3));
        assert!(t.add_vitest("not json").is_err());
    }
}
