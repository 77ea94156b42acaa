//! Record numbers on the device: the blocks the server leased, used in order, and the
//! provisional fallback, persisted so that no number is issued twice, even across a crash.

use chrono::NaiveDate;
use onsite_domain::numbering::{Department, IssuedNumber, NumberPool, RecordNumber};

use crate::{Result, Store, StoreError, meta_get, meta_set};

const KEY: &str = "number_pool";

fn load(conn: &rusqlite::Connection) -> Result<NumberPool> {
    match meta_get(conn, KEY)? {
        Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::BadData {
            what: "number pool".into(),
            detail: e.to_string(),
        }),
        None => Ok(NumberPool::default()),
    }
}

fn save(conn: &rusqlite::Connection, pool: &NumberPool) -> Result<()> {
    let json = serde_json::to_string(pool).map_err(|e| StoreError::BadData {
        what: "number pool".into(),
        detail: e.to_string(),
    })?;
    meta_set(conn, KEY, &json)
}

impl Store {
    /// Adds numbers the server leased to this device (`POST /v1/numbers/lease`). A number
    /// that is malformed is refused, and nothing is added; one already held is ignored.
    pub fn add_leased_numbers(&mut self, numbers: &[String]) -> Result<()> {
        for n in numbers {
            RecordNumber::parse(n)?;
        }
        let tx = self.conn.transaction()?;
        let mut pool = load(&tx)?;
        for n in numbers {
            if !pool.leased.contains(n) {
                pool.leased.push(n.clone());
            }
        }
        save(&tx, &pool)?;
        tx.commit()?;
        Ok(())
    }

    /// Issues the next number of `dept` for a document made on `local_date`: a leased one
    /// while any is left for that month, else a provisional one that sync replaces. The
    /// pool is on disk before the number is returned.
    pub fn issue_number(
        &mut self,
        dept: &Department,
        local_date: NaiveDate,
    ) -> Result<IssuedNumber> {
        let tx = self.conn.transaction()?;
        let mut pool = load(&tx)?;
        let issued = pool.issue(dept, local_date, self.clock.device());
        save(&tx, &pool)?;
        tx.commit()?;
        Ok(issued)
    }

    /// How many leased numbers are left for `dept` in the month of `local_date` (the sync
    /// engine leases more when this runs low).
    pub fn numbers_remaining(&self, dept: &Department, local_date: NaiveDate) -> Result<usize> {
        Ok(load(&self.conn)?.remaining(dept, local_date))
    }
}
