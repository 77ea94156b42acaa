use rusqlite::{Connection, params};
use std::time::Instant;
fn main() {
    let mut rows = Vec::new();
    for o in 0..10000u64 {
        let wo = format!("{:08x}-0000-7000-8000-{:012x}", o, 999);
        for k in 0..26u64 {
            let id = format!("{:08x}-0000-7000-8000-{:012x}", o, k);
            let body = format!(
                r#"{{"id":"{id}","work_order_id":"{wo}","position":{k},"key":"k{k}","label":"检查电源电压是否正常并记录读数","type":"yes_no","required":true,"safety":false}}"#
            );
            rows.push((id, wo.clone(), body));
        }
    }
    let clocks = r#"{"*":"001795350000000-00000-0192f0c4-aaaa-bbbb-cccc-dddddddddddd"}"#;
    for (label, ddl) in [
        (
            "rowid+pk+wo",
            "CREATE TABLE record (entity TEXT NOT NULL, id TEXT NOT NULL, work_order_id TEXT, body TEXT NOT NULL, clocks TEXT NOT NULL DEFAULT '{}', base_body TEXT, base_clocks TEXT, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (entity, id)) STRICT; CREATE INDEX record_by_work_order ON record (work_order_id, entity) WHERE work_order_id IS NOT NULL;",
        ),
        (
            "without rowid+wo",
            "CREATE TABLE record (entity TEXT NOT NULL, id TEXT NOT NULL, work_order_id TEXT, body TEXT NOT NULL, clocks TEXT NOT NULL DEFAULT '{}', base_body TEXT, base_clocks TEXT, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (entity, id)) STRICT, WITHOUT ROWID; CREATE INDEX record_by_work_order ON record (work_order_id, entity) WHERE work_order_id IS NOT NULL;",
        ),
        (
            "rowid+pk only",
            "CREATE TABLE record (entity TEXT NOT NULL, id TEXT NOT NULL, work_order_id TEXT, body TEXT NOT NULL, clocks TEXT NOT NULL DEFAULT '{}', base_body TEXT, base_clocks TEXT, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (entity, id)) STRICT;",
        ),
    ] {
        let p = "/tmp/floor.db";
        for s in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{p}{s}"));
        }
        let mut c = Connection::open(p).unwrap();
        let ps: i64 = std::env::var("PS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4096);
        c.pragma_update(None, "page_size", ps).unwrap();
        c.pragma_update(
            None,
            "journal_mode",
            std::env::var("JM").unwrap_or("WAL".into()),
        )
        .unwrap();
        c.pragma_update(
            None,
            "synchronous",
            std::env::var("SY").unwrap_or("FULL".into()),
        )
        .unwrap();
        c.pragma_update(None, "cache_size", -65536).unwrap();
        c.execute_batch(ddl).unwrap();
        let t = Instant::now();
        for chunk in rows.chunks(20000) {
            let tx = c.transaction().unwrap();
            {
                let mut st = tx.prepare_cached("INSERT INTO record (entity, id, work_order_id, body, clocks) VALUES (?1, ?2, ?3, ?4, ?5)").unwrap();
                for (id, wo, body) in chunk {
                    st.execute(params!["checklist_item", id, wo, body, clocks])
                        .unwrap();
                }
            }
            tx.commit().unwrap();
        }
        let ins = t.elapsed();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        println!(
            "{label}: insert {:?} + checkpoint {:?}",
            ins,
            t.elapsed() - ins
        );
    }
}
