//! kill -9 in the middle of a burst of writes: the database opens, passes the full
//! integrity check, and holds every write whose call returned.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use onsite_domain::records::LogEntry;
use onsite_domain::{Entity, Status};
use serde_json::json;
use support::{now, world};
use uuid::Uuid;

const CHILD_DB: &str = "ONSITE_CRASH_CHILD_DB";
const CHILD_ORDER: &str = "ONSITE_CRASH_CHILD_ORDER";

/// The writer that gets killed. It runs only as a child of the test below.
#[test]
#[ignore = "run as a child process by sigkill_in_a_burst_of_writes_loses_nothing_acknowledged"]
fn crash_child_writer() {
    let (Ok(path), Ok(order)) = (std::env::var(CHILD_DB), std::env::var(CHILD_ORDER)) else {
        panic!("run by the crash test only");
    };
    let order: Uuid = order.parse().expect("order id");
    let mut store = onsite_store::Store::open(
        &path,
        &onsite_store::OpenOptions {
            device_id: support::DEVICE.into(),
            key: None,
        },
    )
    .expect("opens");
    let mut out = std::io::stdout().lock();
    for n in 0u32.. {
        let id = Uuid::from_u128(0xC0DE_0000 + u128::from(n));
        if n % 2 == 0 {
            let entry = LogEntry {
                id,
                work_order_id: order,
                day: now().date_naive(),
                text: format!("第 {n} 条日志：检查接线端子并紧固"),
                progress: None,
                open_problems: None,
                next_plan: None,
                author_id: None,
                voids: None,
            };
            store
                .append(Entity::LogEntry, &entry, now())
                .expect("appends");
        } else {
            let fields = json!({"diagnosis": format!("write {n}")});
            let serde_json::Value::Object(fields) = fields else {
                unreachable!("an object")
            };
            store
                .update(Entity::WorkOrder, order, fields, now())
                .expect("updates");
        }
        // The call returned: the write is acknowledged.
        writeln!(out, "saved {n}").expect("stdout");
        out.flush().expect("stdout");
    }
}

#[test]
fn sigkill_in_a_burst_of_writes_loses_nothing_acknowledged() {
    for (round, kill_after) in [37usize, 160, 411].into_iter().enumerate() {
        let w = world(20);
        let path = w.path();
        let order = w
            .data
            .orders
            .iter()
            .find(|o| o.status == Status::OnSite)
            .map_or(w.data.orders[0].id, |o| o.id);
        w.store.close().expect("closes");
        let exe = std::env::current_exe().expect("test binary");
        let mut child = Command::new(exe)
            .args([
                "--ignored",
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB, &path)
            .env(CHILD_ORDER, order.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("child starts");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut acked = Vec::new();
        while acked.len() < kill_after {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(n) = line.strip_prefix("saved ") {
                acked.push(n.parse::<u32>().expect("number"));
            }
        }
        child.kill().expect("SIGKILL");
        // Lines already written before the kill were acknowledged too.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("saved ") {
                acked.push(n.parse::<u32>().expect("number"));
            }
        }
        child.wait().expect("reaped");
        assert!(
            acked.len() >= kill_after,
            "round {round}: the child wrote only {} times",
            acked.len()
        );

        let store = onsite_store::Store::open(
            &path,
            &onsite_store::OpenOptions {
                device_id: support::DEVICE.into(),
                key: None,
            },
        )
        .expect("opens after kill -9");
        assert_eq!(
            store.opened_with, "integrity_check",
            "a crash is followed by the full check"
        );
        let last_update = acked.iter().filter(|n| *n % 2 == 1).max().copied();
        for n in acked.iter().filter(|n| *n % 2 == 0) {
            let id = Uuid::from_u128(0xC0DE_0000 + u128::from(*n));
            assert!(
                store
                    .record_json(Entity::LogEntry, id)
                    .expect("reads")
                    .is_some(),
                "round {round}: acknowledged log entry {n} is missing"
            );
        }
        let diagnosis = store.work_order(order).expect("loads").order.diagnosis;
        let at_least = last_update.map(|n| format!("write {n}"));
        let got: Option<u32> = diagnosis
            .as_deref()
            .and_then(|d| d.strip_prefix("write "))
            .and_then(|n| n.parse().ok());
        assert!(
            got >= last_update,
            "round {round}: diagnosis {diagnosis:?} is older than the last acknowledged {at_least:?}"
        );
        // Every acknowledged write is queued for the server.
        assert!(
            store.pending_count().expect("counts") >= i64::try_from(acked.len()).expect("small")
        );
    }
}
