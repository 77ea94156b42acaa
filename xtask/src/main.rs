//! The project's developer commands, in Rust so that they run wherever cargo does:
//!
//! - `cargo xtask setup`: installs what a fresh Debian/Ubuntu machine lacks;
//! - `cargo xtask test`: setup, then formatting, clippy and every test of the workspace,
//!   ending with one line `xtask: N passed, N failed, N skipped`;
//! - `cargo xtask bench`: the benchmarks, which print their figures.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <setup | test | bench>

  setup   install what this machine lacks to build and test Onsite (Debian/Ubuntu)
  test    setup, then cargo fmt --check, clippy -D warnings, and every test
  bench   run the benchmarks and print their figures (release build)";

/// Debian packages the build needs: a C toolchain for the bundled SQLite.
const APT_PACKAGES: &[&str] = &["build-essential", "pkg-config"];
/// Toolchain components the checks need.
const RUSTUP_COMPONENTS: &[&str] = &["rustfmt", "clippy"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("test") => test(),
        Some("bench") => bench(&args[1..]),
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

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn setup() -> Result<()> {
    if Command::new("dpkg-query")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
    {
        let missing: Vec<&str> = APT_PACKAGES
            .iter()
            .copied()
            .filter(|p| !installed(p))
            .collect();
        if !missing.is_empty() {
            let sudo = if is_root() { None } else { Some("sudo") };
            let apt = |args: &[&str]| {
                let mut c = Command::new(sudo.unwrap_or("apt-get"));
                if sudo.is_some() {
                    c.arg("apt-get");
                }
                c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
                c
            };
            run(&mut apt(&["update", "-q"]))?;
            let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
            install.args(&missing);
            run(&mut install)?;
        }
    } else {
        eprintln!(
            "xtask: not a Debian/Ubuntu machine; install a C compiler and pkg-config yourself"
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
    Ok(())
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

fn test() -> Result<()> {
    setup()?;
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
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--locked", "--no-fail-fast"])
        .stdout(Stdio::piped());
    eprintln!("xtask: running {cmd:?}");
    let mut child = cmd.spawn().context("could not start cargo test")?;
    let mut tally = Tally::default();
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
    if !status.success() || tally.failed > 0 {
        bail!("tests failed ({status})");
    }
    if tally.passed == 0 {
        bail!("no test ran");
    }
    Ok(())
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
        .args(extra))
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
    }
}
