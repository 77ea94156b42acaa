//! Pulled changes read as the JSON text they came in.
//!
//! Most of a first sync is rows under an order (checklist answers, part usages, …) that
//! nothing here has touched: they are stored as the server wrote them. Parsing each into
//! a map of values only to write it out again was most of the cost of a first sync, so
//! such rows are split at their top level only — the `_clocks` object, `work_order_id`
//! and the other fields as text — and the body is put back together from those pieces.

use std::borrow::Cow;
use std::fmt;

use onsite_domain::protocol::CLOCKS_KEY;
use onsite_domain::{Change, ChangeOp, Entity};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::{Result, StoreError};

/// One change of a page: parsed already, or its JSON text.
pub(crate) enum Incoming<'a> {
    Parsed(Change),
    Raw(&'a RawValue),
}

/// What the store needs to know of a raw change before deciding how to write it.
#[derive(Deserialize)]
pub(crate) struct RawChange<'a> {
    pub entity: Entity,
    pub id: Uuid,
    pub op: ChangeOp,
    /// The row's top-level fields, read in the same pass as the rest of the change.
    #[serde(borrow, default)]
    pub row: Option<Fields<'a>>,
}

/// Whether a put of `entity` with nothing pending may be written as it came: everything
/// but the records that feed the order list and its search (orders, customers,
/// equipment) and the fault-level table (deadlines).
pub(crate) fn written_as_is(entity: Entity) -> bool {
    !matches!(
        entity,
        Entity::WorkOrder | Entity::Customer | Entity::Equipment | Entity::FaultLevels
    )
}

pub(crate) fn bad_change(raw: &RawValue, detail: &str) -> StoreError {
    StoreError::BadData {
        what: format!(
            "pulled change {}",
            raw.get().chars().take(120).collect::<String>()
        ),
        detail: detail.to_owned(),
    }
}

/// An object key: borrowed from the text unless it had escapes.
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor(std::marker::PhantomData))
    }
}

/// The top-level fields of a JSON object, in order, each value as its text.
pub(crate) struct Fields<'a>(pub(crate) Vec<(Key<'a>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct FieldsVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for FieldsVisitor<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Fields<'a>, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(entry) = map.next_entry::<Key<'a>, &'de RawValue>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

/// The HLC stamps of a clocks object (`{"field": "hlc", …}`) as they stand in its text.
/// HLC strings have nothing to escape; a value that is not a plain string is no stamp.
pub(crate) fn stamps(clocks: &str) -> serde_json::Result<Vec<&str>> {
    let Fields(fields) = serde_json::from_str::<Fields<'_>>(clocks)?;
    Ok(fields
        .iter()
        .filter_map(|(_, v)| {
            v.get()
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .filter(|s| !s.contains('\\'))
        })
        .collect())
}

/// A pulled row taken apart for storing as it came.
pub(crate) struct RawRow<'a> {
    /// The fields without `_clocks`, nulls left out (as the store writes bodies).
    pub body: String,
    /// The `_clocks` object as it came (`{}` when there was none).
    pub clocks: &'a str,
    pub work_order_id: Option<String>,
    clock_values: Vec<&'a str>,
}

impl<'a> RawRow<'a> {
    pub fn split(entity: Entity, id: &str, row: Fields<'a>) -> Result<RawRow<'a>> {
        let bad = |detail: String| StoreError::BadData {
            what: format!("pulled {entity} {id}"),
            detail,
        };
        let Fields(fields) = row;
        let size: usize = fields
            .iter()
            .map(|(k, v)| k.0.len() + v.get().len() + 4)
            .sum();
        let mut body = String::with_capacity(size + 2);
        body.push('{');
        let mut clocks = "{}";
        let mut clock_values = Vec::new();
        let mut work_order_id = None;
        for (Key(key), value) in fields {
            let text = value.get();
            if key == CLOCKS_KEY {
                clock_values = stamps(text).map_err(|e| bad(format!("{CLOCKS_KEY}: {e}")))?;
                clocks = text;
                continue;
            }
            if text == "null" {
                continue;
            }
            if key == "work_order_id" {
                work_order_id = Some(
                    serde_json::from_str::<String>(text)
                        .map_err(|e| bad(format!("work_order_id: {e}")))?,
                );
            }
            if body.len() > 1 {
                body.push(',');
            }
            // A key is a JSON string again: written with its escapes.
            body.push_str(&serde_json::to_string(key.as_ref()).map_err(|e| bad(e.to_string()))?);
            body.push(':');
            body.push_str(text);
        }
        body.push('}');
        Ok(RawRow {
            body,
            clocks,
            work_order_id,
            clock_values,
        })
    }

    /// The field clocks of the row (HLC strings).
    pub fn clock_values(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.clock_values.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn raw(v: &Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).expect("valid JSON")
    }

    #[test]
    fn a_row_taken_apart_says_the_same_as_the_row_parsed() {
        let row = json!({
            "id": "0192f0c4-0000-7000-8000-000000000001",
            "work_order_id": "0192f0c4-0000-7000-8000-00000000000a",
            "label": "检查\"电源\"\n电压",
            "answer": null,
            "nested": {"a": [1, 2, {"b": null}]},
            "we\"ird": 1.5,
            "_clocks": {"*": "001795350000000-00000-dev", "label": "001795350000009-00002-dev"}
        });
        let text = raw(&row);
        let fields: Fields<'_> = serde_json::from_str(text.get()).expect("an object");
        let split = RawRow::split(Entity::ChecklistItem, "x", fields).expect("splits");
        let body: Value = serde_json::from_str(&split.body).expect("the body is JSON");
        let mut expected = row.clone();
        let obj = expected.as_object_mut().expect("object");
        obj.remove("_clocks");
        obj.remove("answer");
        assert_eq!(body, expected);
        let clocks: Value = serde_json::from_str(split.clocks).expect("clocks are JSON");
        assert_eq!(clocks, row["_clocks"]);
        assert_eq!(
            split.work_order_id.as_deref(),
            Some("0192f0c4-0000-7000-8000-00000000000a")
        );
        let mut stamps: Vec<&str> = split.clock_values().collect();
        stamps.sort_unstable();
        assert_eq!(
            stamps,
            ["001795350000000-00000-dev", "001795350000009-00002-dev"]
        );
    }

    #[test]
    fn a_change_whose_row_is_not_an_object_is_refused() {
        let text = raw(
            &json!({"seq": 1, "entity": "part_usage", "id": "0192f0c4-0000-7000-8000-000000000001", "op": "put", "row": [1, 2]}),
        );
        assert!(serde_json::from_str::<RawChange<'_>>(text.get()).is_err());
    }

    #[test]
    fn clocks_that_are_not_an_object_are_refused_with_the_record_named() {
        let text = raw(&json!({"id": "p-1", "_clocks": "yesterday"}));
        let fields: Fields<'_> = serde_json::from_str(text.get()).expect("an object");
        let err = RawRow::split(Entity::PartUsage, "p-1", fields)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("part_usage p-1"), "{err}");
    }
}
