//! The command line of PROTOCOL.md: `user add` reads the password from standard input;
//! `serve` logs one line naming its address when it is ready, and answers there.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_onsite-sync-server");

/// A child process that is killed and reaped however the test ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("writes");
    let mut out = String::new();
    stream.read_to_string(&mut out).expect("reads");
    out
}

#[test]
fn an_admin_added_from_the_command_line_can_run_a_server_that_says_where_it_listens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("server.db").display());
    let mut add = Command::new(BIN)
        .args([
            "user",
            "add",
            "--username",
            "boss",
            "--role",
            "admin",
            "--name",
            "管理员",
            "--db",
            &db,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"a long enough password\n")
        .expect("writes");
    let out = add.wait_with_output().expect("finishes");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("added boss"));

    let short = Command::new(BIN)
        .env("RUST_BACKTRACE", "1")
        .args([
            "user",
            "add",
            "--username",
            "x",
            "--role",
            "admin",
            "--name",
            "x",
            "--db",
            &db,
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(b"short\n")?;
            c.wait_with_output()
        })
        .expect("runs");
    assert!(!short.status.success());
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(stderr.contains("at least 10"), "a clear error: {stderr}");
    assert!(
        stderr.lines().count() == 1 && !stderr.contains("backtrace"),
        "one line, not a backtrace: {stderr}"
    );

    let mut server = Running(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--db", &db])
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts"),
    );
    let stderr = server.0.stderr.take().expect("stderr");
    let started = Instant::now();
    let mut addr = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("reads");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = Some(
                rest.split_whitespace()
                    .next()
                    .expect("address")
                    .trim_end_matches(|c: char| !c.is_ascii_digit())
                    .to_owned(),
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no ready line");
    }
    let addr = addr.expect("the ready line names the address");
    let answer = http_get(&addr, "/healthz");
    drop(server);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#"{"status":"ok"}"#));
}

/// Runs the binary with `args` and `stdin`; (success, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writes");
    let out = child.wait_with_output().expect("finishes");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_operator_disables_enables_re_passwords_and_signs_out_a_user_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("server.db").display());
    let user =
        |what: &str, stdin: &str| run(&["user", what, "--username", "wang", "--db", &db], stdin);
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "--username",
            "wang",
            "--role",
            "engineer",
            "--name",
            "王工",
            "--department",
            "SC",
            "--db",
            &db,
        ],
        "a long enough password\n",
    );
    assert!(ok, "{err}");
    for (what, said) in [
        ("disable", "wang disabled"),
        ("enable", "wang enabled"),
        ("sign-out", "wang signed out"),
    ] {
        let (ok, out, err) = user(what, "");
        assert!(ok, "{what}: {err}");
        assert!(out.contains(said), "{out}");
    }
    let (ok, _, err) = user("password", "weak\n");
    assert!(!ok && err.contains("password"), "{err}");
    let (ok, out, err) = user("password", "another long passphrase\n");
    assert!(ok, "{err}");
    assert!(out.contains("new password"), "{out}");
    let (ok, _, err) = run(
        &["user", "disable", "--username", "nobody", "--db", &db],
        "",
    );
    assert!(
        !ok && err.contains("nobody") && err.lines().count() == 1,
        "{err}"
    );
}
