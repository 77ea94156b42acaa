//! One stored record: its visible JSON body, per-field clocks, and the server's base row
//! while local operations are pending.

use onsite_domain::Entity;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use crate::{Result, StoreError};

/// A JSON object of fields.
pub(crate) type Fields = Map<String, Value>;

/// The server's row under pending local operations.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Base {
    /// No pending divergence: the visible row is the server's.
    Same,
    /// The record does not exist on the server yet (made here).
    Absent,
    /// The server's last row and clocks.
    Row(Fields, Fields),
}

#[derive(Debug, Clone)]
pub(crate) struct StoredRecord {
    pub entity: Entity,
    pub id: String,
    /// Set when the record is first stored; a record never moves to another order.
    pub work_order_id: Option<String>,
    pub body: Fields,
    /// Field name → HLC string; string order is clock order.
    pub clocks: Fields,
    pub base: Base,
    pub deleted: bool,
}

pub(crate) fn parse_object(text: &str, what: &str) -> Result<Fields> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(StoreError::BadData {
            what: what.into(),
            detail: "not a JSON object".into(),
        }),
        Err(e) => Err(StoreError::BadData {
            what: what.into(),
            detail: e.to_string(),
        }),
    }
}

/// The `work_order_id` a record hangs under (the order itself for a work order).
pub(crate) fn owner_of(entity: Entity, id: &str, body: &Fields) -> Option<String> {
    if entity == Entity::WorkOrder {
        return Some(id.to_owned());
    }
    body.get("work_order_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub(crate) fn load(conn: &Connection, entity: Entity, id: &str) -> Result<Option<StoredRecord>> {
    let row = conn
        .prepare_cached("SELECT work_order_id, body, clocks, base_body, base_clocks, deleted FROM record WHERE entity = ?1 AND id = ?2")?
        .query_row(params![entity.as_str(), id], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, Option<String>>(4)?, r.get::<_, bool>(5)?))
        })
        .optional()?;
    let Some((work_order_id, body, clocks, base_body, base_clocks, deleted)) = row else {
        return Ok(None);
    };
    let what = format!("{entity} {id}");
    let base = match base_body.as_deref() {
        None => Base::Same,
        Some("null") => Base::Absent,
        Some(b) => Base::Row(
            parse_object(b, &what)?,
            parse_object(base_clocks.as_deref().unwrap_or("{}"), &what)?,
        ),
    };
    Ok(Some(StoredRecord {
        entity,
        id: id.to_owned(),
        work_order_id,
        body: parse_object(&body, &what)?,
        clocks: parse_object(&clocks, &what)?,
        base,
        deleted,
    }))
}

pub(crate) fn save(conn: &Connection, r: &StoredRecord) -> Result<()> {
    save_as(conn, r, &mut SaveHint::default())
}

/// How the saves of one transaction went so far: most pages of a sync replace rows that
/// are there (try UPDATE, INSERT when it missed), but a first sync inserts hundreds of
/// thousands (try INSERT, UPDATE on conflict). Either way round costs a wasted seek when
/// it guesses wrong; the hint follows what the page has been doing.
#[derive(Debug, Default)]
pub(crate) struct SaveHint {
    saves: u32,
    inserts: u32,
}

impl SaveHint {
    fn inserts_first(&self) -> bool {
        self.saves >= 20 && self.inserts * 10 >= self.saves * 9
    }
}

pub(crate) fn save_as(conn: &Connection, r: &StoredRecord, hint: &mut SaveHint) -> Result<()> {
    let (base_body, base_clocks) = match &r.base {
        Base::Same => (None, None),
        Base::Absent => (Some("null".to_owned()), None),
        Base::Row(b, c) => (Some(to_json(b)), Some(to_json(c))),
    };
    let body = body_json(&r.body);
    let clocks = to_json(&r.clocks);
    save_text(
        conn,
        &TextRecord {
            entity: r.entity,
            id: &r.id,
            work_order_id: r.work_order_id.as_deref(),
            body: &body,
            clocks: &clocks,
            base_body: base_body.as_deref(),
            base_clocks: base_clocks.as_deref(),
            deleted: r.deleted,
        },
        hint,
    )
}

/// A record as the text its columns hold.
pub(crate) struct TextRecord<'a> {
    pub entity: Entity,
    pub id: &'a str,
    pub work_order_id: Option<&'a str>,
    pub body: &'a str,
    pub clocks: &'a str,
    pub base_body: Option<&'a str>,
    pub base_clocks: Option<&'a str>,
    pub deleted: bool,
}

impl<'a> TextRecord<'a> {
    /// The server's row with nothing pending here.
    pub fn server_row(
        entity: Entity,
        id: &'a str,
        work_order_id: Option<&'a str>,
        body: &'a str,
        clocks: &'a str,
    ) -> TextRecord<'a> {
        TextRecord {
            entity,
            id,
            work_order_id,
            body,
            clocks,
            base_body: None,
            base_clocks: None,
            deleted: false,
        }
    }
}

pub(crate) fn save_text(conn: &Connection, r: &TextRecord<'_>, hint: &mut SaveHint) -> Result<()> {
    let inserted = if hint.inserts_first() {
        // ON CONFLICT DO UPDATE leaves `work_order_id` as it was, as the UPDATE below.
        // Only an insert moves `last_insert_rowid`.
        let before = conn.last_insert_rowid();
        conn.prepare_cached(
            "INSERT INTO record (entity, id, work_order_id, body, clocks, base_body, base_clocks, deleted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (entity, id) DO UPDATE SET body = excluded.body, clocks = excluded.clocks,
                 base_body = excluded.base_body, base_clocks = excluded.base_clocks, deleted = excluded.deleted",
        )?
        .execute(params![r.entity.as_str(), r.id, r.work_order_id, r.body, r.clocks, r.base_body, r.base_clocks, r.deleted])?;
        conn.last_insert_rowid() != before
    } else {
        let updated = conn
            .prepare_cached("UPDATE record SET body = ?3, clocks = ?4, base_body = ?5, base_clocks = ?6, deleted = ?7 WHERE entity = ?1 AND id = ?2")?
            .execute(params![r.entity.as_str(), r.id, r.body, r.clocks, r.base_body, r.base_clocks, r.deleted])?;
        if updated == 0 {
            conn.prepare_cached("INSERT INTO record (entity, id, work_order_id, body, clocks, base_body, base_clocks, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
                .execute(params![r.entity.as_str(), r.id, r.work_order_id, r.body, r.clocks, r.base_body, r.base_clocks, r.deleted])?;
        }
        updated == 0
    };
    hint.saves += 1;
    hint.inserts += u32::from(inserted);
    Ok(())
}

fn to_json(fields: &Fields) -> String {
    // Serialising a map of JSON values cannot fail.
    serde_json::to_string(fields).unwrap_or_else(|_| "{}".to_owned())
}

/// A body as stored: null fields are left out (an absent field reads back as null, and
/// its clock stays in the clock map), which keeps rows a third smaller.
fn body_json(fields: &Fields) -> String {
    struct NonNull<'a>(&'a Fields);
    impl serde::Serialize for NonNull<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().filter(|(_, v)| !v.is_null()))
        }
    }
    serde_json::to_string(&NonNull(fields)).unwrap_or_else(|_| "{}".to_owned())
}

pub(crate) fn remove(conn: &Connection, entity: Entity, id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM record WHERE entity = ?1 AND id = ?2")?
        .execute(params![entity.as_str(), id])?;
    Ok(())
}

/// Splits a pulled row into its fields and its `_clocks`.
pub(crate) fn split_clocks(mut row: Fields) -> (Fields, Fields) {
    let clocks = match row.remove(onsite_domain::protocol::CLOCKS_KEY) {
        Some(Value::Object(c)) => c,
        _ => Fields::new(),
    };
    (row, clocks)
}

/// Deserialises a body into its typed entity, so that a write which would store
/// something the app cannot read back is refused.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(body: &Fields, what: &str) -> Result<T> {
    T::deserialize(Value::Object(body.clone())).map_err(|e| {
        StoreError::Rule(onsite_domain::DomainError::Invalid {
            field: "record",
            message: format!("{what}: {e}"),
        })
    })
}
