//! Checklists 点检表 / process cards 流程卡: versioned templates per service type and
//! equipment model, and the items of an order's instance with their answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::work_order::ServiceType;

/// What kind of answer an item wants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ItemKind {
    PassFail,
    /// A measured value with its unit and optional limits (inclusive).
    Measured {
        unit: String,
        min: Option<f64>,
        max: Option<f64>,
    },
    Text,
    PhotoRequired,
}

impl ItemKind {
    fn name(&self) -> &'static str {
        match self {
            ItemKind::PassFail => "pass/fail",
            ItemKind::Measured { .. } => "a measurement",
            ItemKind::Text => "a text",
            ItemKind::PhotoRequired => "a photo",
        }
    }

    fn wants(&self) -> &'static str {
        match self {
            ItemKind::PassFail => "answer pass or fail",
            ItemKind::Measured { .. } => "enter the measured number",
            ItemKind::Text => "write the answer",
            ItemKind::PhotoRequired => "take the photo",
        }
    }
}

/// Safety items (PPE 安全帽/防护服, insulated gloves 绝缘手套, barriers) are shown first
/// and are always required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TemplateItem {
    pub key: String,
    pub label: String,
    #[serde(flatten)]
    pub kind: ItemKind,
    pub required: bool,
    #[serde(default)]
    pub safety: bool,
}

/// A checklist template, versioned; reference data synced from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChecklistTemplate {
    pub id: Uuid,
    pub name: String,
    pub version: u32,
    pub service_type: ServiceType,
    /// `None`: applies to every model.
    pub equipment_model: Option<String>,
    pub items: Vec<TemplateItem>,
}

/// At most this many items in one template: a checklist longer than this is several jobs.
pub const MAX_TEMPLATE_ITEMS: usize = 200;

impl ChecklistTemplate {
    /// A template an office can publish: a name, 1–200 items, each with a key (unique in
    /// the template, letters, digits, `_` or `-`, ≤ 40), a label, and limits that leave a
    /// range (min ≤ max) with a unit.
    pub fn validate(&self) -> Result<(), crate::DomainError> {
        let invalid =
            |field: &'static str, message: String| crate::DomainError::Invalid { field, message };
        if self.name.trim().is_empty() {
            return Err(invalid("name", "give the checklist a name".into()));
        }
        if self.version == 0 {
            return Err(invalid("version", "versions start at 1".into()));
        }
        if self.items.is_empty() || self.items.len() > MAX_TEMPLATE_ITEMS {
            return Err(invalid(
                "items",
                format!(
                    "a checklist has 1 to {MAX_TEMPLATE_ITEMS} items, this one has {}",
                    self.items.len()
                ),
            ));
        }
        if self
            .equipment_model
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return Err(invalid(
                "equipment_model",
                "leave the model out for a checklist of every model, or name it".into(),
            ));
        }
        let mut keys = std::collections::HashSet::new();
        for item in &self.items {
            let key_ok = !item.key.is_empty()
                && item.key.len() <= 40
                && item
                    .key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !key_ok {
                return Err(invalid(
                    "key",
                    format!(
                        "{:?}: an item's key is 1–40 letters, digits, _ or -",
                        item.key
                    ),
                ));
            }
            if !keys.insert(item.key.as_str()) {
                return Err(invalid(
                    "key",
                    format!("{:?} appears twice: each item needs its own key", item.key),
                ));
            }
            if item.label.trim().is_empty() {
                return Err(invalid(
                    "label",
                    format!("item {:?} needs a label the engineer reads", item.key),
                ));
            }
            if let ItemKind::Measured { unit, min, max } = &item.kind {
                let finite = min.is_none_or(f64::is_finite) && max.is_none_or(f64::is_finite);
                if !finite || matches!((min, max), (Some(lo), Some(hi)) if lo > hi) {
                    return Err(invalid(
                        "limits",
                        format!(
                            "{:?}: the limits must be numbers with min ≤ max",
                            item.label
                        ),
                    ));
                }
                if unit.trim().is_empty() {
                    return Err(invalid(
                        "unit",
                        format!("{:?}: a measurement needs its unit", item.label),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The template an order of `service` on equipment of `model` is checked by: one
    /// written for that model wins over one for every model; among those, the newest
    /// version. `None` when the office has none for this kind of job.
    pub fn pick<'a>(
        templates: impl IntoIterator<Item = &'a ChecklistTemplate>,
        service: ServiceType,
        model: Option<&str>,
    ) -> Option<&'a ChecklistTemplate> {
        templates
            .into_iter()
            .filter(|t| t.service_type == service)
            .filter(|t| t.equipment_model.is_none() || t.equipment_model.as_deref() == model)
            .max_by_key(|t| (t.equipment_model.is_some(), t.version))
    }
}

/// An answer to one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum Answer {
    Pass,
    Fail,
    Value(f64),
    Text(String),
    /// The SHA-256 of the photo attachment.
    Photo(String),
}

/// The state of an item, as completion sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Open,
    Ok,
    /// Failed, or a measurement outside its limits.
    Failed,
}

/// One item of an order's checklist (entity `checklist_item`). Mutable: the answer, the
/// note and the cross-check merge last-writer-wins by HLC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChecklistItem {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub template_id: Option<Uuid>,
    pub template_version: Option<u32>,
    pub position: u32,
    pub key: String,
    pub label: String,
    #[serde(flatten)]
    pub kind: ItemKind,
    pub required: bool,
    #[serde(default)]
    pub safety: bool,
    pub answer: Option<Answer>,
    pub note: Option<String>,
    /// Self-check 自检: who answered, when.
    pub answered_by: Option<Uuid>,
    pub answered_at: Option<DateTime<Utc>>,
    /// Cross-check 交叉检查 by a second engineer on multi-engineer jobs.
    pub cross_checked_by: Option<Uuid>,
    pub cross_checked_at: Option<DateTime<Utc>>,
}

impl ChecklistItem {
    /// Instantiates the items of `template` for one order.
    pub fn from_template(
        template: &ChecklistTemplate,
        work_order_id: Uuid,
        new_id: impl Fn() -> Uuid,
    ) -> Vec<ChecklistItem> {
        let mut items: Vec<&TemplateItem> = template.items.iter().collect();
        // Safety first: PPE and barriers come before any test.
        items.sort_by_key(|i| !i.safety);
        items
            .into_iter()
            .zip(0u32..)
            .map(|(t, position)| ChecklistItem {
                id: new_id(),
                work_order_id,
                template_id: Some(template.id),
                template_version: Some(template.version),
                position,
                key: t.key.clone(),
                label: t.label.clone(),
                kind: t.kind.clone(),
                required: t.required || t.safety,
                safety: t.safety,
                answer: None,
                note: None,
                answered_by: None,
                answered_at: None,
                cross_checked_by: None,
                cross_checked_at: None,
            })
            .collect()
    }

    pub fn state(&self) -> ItemState {
        match (&self.kind, &self.answer) {
            (_, None) => ItemState::Open,
            (_, Some(Answer::Fail)) => ItemState::Failed,
            (ItemKind::Measured { min, max, .. }, Some(Answer::Value(v))) => {
                let low = min.is_some_and(|m| *v < m);
                let high = max.is_some_and(|m| *v > m);
                if low || high || !v.is_finite() {
                    ItemState::Failed
                } else {
                    ItemState::Ok
                }
            }
            (_, Some(Answer::Text(t))) if t.trim().is_empty() => ItemState::Open,
            _ => ItemState::Ok,
        }
    }

    /// The answer fits the item: pass/fail for a pass/fail item, a finite number for a
    /// measurement, words for a text, a photo for a photo item; and a failed item says
    /// why only in its note (checked at completion, not here).
    pub fn validate(&self) -> Result<(), crate::DomainError> {
        let Some(answer) = &self.answer else {
            return Ok(());
        };
        let fits = match (&self.kind, answer) {
            (ItemKind::PassFail, Answer::Pass | Answer::Fail) => true,
            (ItemKind::Measured { .. }, Answer::Value(v)) => v.is_finite(),
            (
                ItemKind::Measured { .. } | ItemKind::Text | ItemKind::PhotoRequired,
                Answer::Fail,
            ) => true,
            (ItemKind::Text, Answer::Text(_)) => true,
            (ItemKind::PhotoRequired, Answer::Photo(sha)) => {
                crate::signature::check_sha256(sha).is_ok()
            }
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(crate::DomainError::Invalid {
                field: "answer",
                message: format!(
                    "{:?} does not answer {:?} ({}): {}",
                    answer,
                    self.label,
                    self.kind.name(),
                    self.kind.wants()
                ),
            })
        }
    }

    /// A cross-check 交叉检查 confirms another engineer's answer: on a job of two or more
    /// engineers, by one of them who did not answer it.
    pub fn check_cross_check(
        &self,
        checker: Uuid,
        assignees: &[Uuid],
    ) -> Result<(), crate::DomainError> {
        let refuse = |message: &str| {
            Err(crate::DomainError::Invalid {
                field: "cross_checked_by",
                message: format!("{:?}: {message}", self.label),
            })
        };
        if assignees.len() < 2 {
            return refuse("a cross-check needs a second engineer on the order");
        }
        if !assignees.contains(&checker) {
            return refuse("only an engineer of the order cross-checks it");
        }
        self.check_cross_checker(checker)
    }

    /// The part of [`Self::check_cross_check`] the server checks on a push (its scope
    /// check has already made the pusher an engineer of the order): an answered item, not
    /// confirmed by the one who answered it.
    pub fn check_cross_checker(&self, checker: Uuid) -> Result<(), crate::DomainError> {
        let refuse = |message: &str| {
            Err(crate::DomainError::Invalid {
                field: "cross_checked_by",
                message: format!("{:?}: {message}", self.label),
            })
        };
        if self.answer.is_none() {
            return refuse("answer it first; a cross-check confirms an answer");
        }
        if self.answered_by == Some(checker) {
            return refuse("the engineer who answered it cannot cross-check it too");
        }
        Ok(())
    }

    /// Whether `viewer` may cross-check this item now (`check_cross_check`).
    pub fn cross_checkable_by(&self, viewer: Uuid, assignees: &[Uuid]) -> bool {
        self.cross_checked_by.is_none() && self.check_cross_check(viewer, assignees).is_ok()
    }

    pub fn has_note(&self) -> bool {
        self.note.as_deref().is_some_and(|n| !n.trim().is_empty())
    }
}

/// The order an engineer works through a checklist in: safety items first (PPE, gloves,
/// barriers before any test), then by position.
pub fn in_working_order(items: &mut [ChecklistItem]) {
    items.sort_by_key(|i| (!i.safety, i.position));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: ItemKind, answer: Option<Answer>) -> ChecklistItem {
        ChecklistItem {
            id: Uuid::nil(),
            work_order_id: Uuid::nil(),
            template_id: None,
            template_version: None,
            position: 0,
            key: "k".into(),
            label: "绝缘电阻".into(),
            kind,
            required: true,
            safety: false,
            answer,
            note: None,
            answered_by: None,
            answered_at: None,
            cross_checked_by: None,
            cross_checked_at: None,
        }
    }

    fn template(model: Option<&str>, version: u32) -> ChecklistTemplate {
        ChecklistTemplate {
            id: Uuid::from_u128(u128::from(version)),
            name: "保养点检表".into(),
            version,
            service_type: ServiceType::Maintenance,
            equipment_model: model.map(str::to_owned),
            items: vec![TemplateItem {
                key: "insulation".into(),
                label: "绝缘电阻".into(),
                kind: ItemKind::Measured {
                    unit: "MΩ".into(),
                    min: Some(0.5),
                    max: None,
                },
                required: true,
                safety: false,
            }],
        }
    }

    #[test]
    fn a_template_says_what_is_wrong_with_it() {
        assert!(template(None, 1).validate().is_ok());
        let mut t = template(None, 1);
        t.items.push(t.items[0].clone());
        assert!(
            t.validate()
                .expect_err("refused")
                .to_string()
                .contains("appears twice")
        );
        let mut t = template(None, 1);
        t.items[0].kind = ItemKind::Measured {
            unit: "MΩ".into(),
            min: Some(5.0),
            max: Some(1.0),
        };
        assert!(
            t.validate()
                .expect_err("refused")
                .to_string()
                .contains("min ≤ max")
        );
        let mut t = template(None, 1);
        t.items[0].key = "绝缘".into();
        assert!(
            t.validate()
                .expect_err("refused")
                .to_string()
                .contains("letters, digits")
        );
        let mut t = template(None, 1);
        t.items.clear();
        assert!(
            t.validate()
                .expect_err("refused")
                .to_string()
                .contains("1 to 200")
        );
        let mut t = template(Some(" "), 1);
        t.name = "x".into();
        assert!(t.validate().is_err());
    }

    #[test]
    fn the_model_template_wins_then_the_newest_version() {
        let all = [
            template(None, 1),
            template(None, 3),
            template(Some("SCB11-1000/10"), 2),
        ];
        let picked = |m| ChecklistTemplate::pick(&all, ServiceType::Maintenance, m);
        assert_eq!(picked(None).map(|t| t.version), Some(3));
        assert_eq!(picked(Some("CNC-850L")).map(|t| t.version), Some(3));
        assert_eq!(picked(Some("SCB11-1000/10")).map(|t| t.version), Some(2));
        assert!(ChecklistTemplate::pick(&all, ServiceType::Repair, None).is_none());
    }

    #[test]
    fn only_a_second_engineer_of_the_order_cross_checks_an_answered_item() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut i = item(ItemKind::PassFail, None);
        let both = [a, b];
        assert!(i.check_cross_check(b, &both).is_err(), "not answered yet");
        i.answer = Some(Answer::Pass);
        i.answered_by = Some(a);
        assert!(i.check_cross_check(b, &both).is_ok());
        assert!(
            i.check_cross_check(a, &both).is_err(),
            "not by who answered"
        );
        assert!(i.check_cross_check(c, &both).is_err(), "not by an outsider");
        assert!(
            i.check_cross_check(b, &[b]).is_err(),
            "not on a one-engineer job"
        );
        assert!(i.cross_checkable_by(b, &both));
        i.cross_checked_by = Some(b);
        assert!(!i.cross_checkable_by(b, &both), "once is enough");
    }

    #[test]
    fn an_answer_must_fit_its_item() {
        let measured = ItemKind::Measured {
            unit: "MΩ".into(),
            min: Some(0.5),
            max: None,
        };
        assert!(
            item(measured.clone(), Some(Answer::Value(12.0)))
                .validate()
                .is_ok()
        );
        assert!(
            item(measured.clone(), Some(Answer::Fail))
                .validate()
                .is_ok()
        );
        assert!(item(measured.clone(), None).validate().is_ok());
        for wrong in [
            Answer::Pass,
            Answer::Text("12".into()),
            Answer::Value(f64::NAN),
        ] {
            let e = item(measured.clone(), Some(wrong))
                .validate()
                .expect_err("wrong kind");
            assert!(e.to_string().contains("measured number"), "{e}");
        }
        assert!(
            item(ItemKind::PassFail, Some(Answer::Value(1.0)))
                .validate()
                .is_err()
        );
        assert!(
            item(ItemKind::Text, Some(Answer::Text("正常".into())))
                .validate()
                .is_ok()
        );
        assert!(
            item(ItemKind::PhotoRequired, Some(Answer::Photo("x".into())))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn a_measurement_outside_its_limits_is_failed_and_on_the_limit_is_ok() {
        let kind = ItemKind::Measured {
            unit: "MΩ".into(),
            min: Some(0.5),
            max: None,
        };
        assert_eq!(
            item(kind.clone(), Some(Answer::Value(0.4))).state(),
            ItemState::Failed
        );
        assert_eq!(
            item(kind.clone(), Some(Answer::Value(0.5))).state(),
            ItemState::Ok
        );
        assert_eq!(item(kind, None).state(), ItemState::Open);
    }

    #[test]
    fn template_instances_put_safety_first_and_make_it_required() {
        let t = ChecklistTemplate {
            id: Uuid::nil(),
            name: "保养".into(),
            version: 3,
            service_type: ServiceType::Maintenance,
            equipment_model: None,
            items: vec![
                TemplateItem {
                    key: "clean".into(),
                    label: "清洁".into(),
                    kind: ItemKind::PassFail,
                    required: false,
                    safety: false,
                },
                TemplateItem {
                    key: "gloves".into(),
                    label: "佩戴绝缘手套".into(),
                    kind: ItemKind::PassFail,
                    required: false,
                    safety: true,
                },
            ],
        };
        let next = std::cell::Cell::new(0u128);
        let items = ChecklistItem::from_template(&t, Uuid::nil(), || {
            next.set(next.get() + 1);
            Uuid::from_u128(next.get())
        });
        assert_eq!(items[0].key, "gloves");
        assert!(items[0].required);
        assert_eq!(items[1].position, 1);
        assert_eq!(items[0].template_version, Some(3));
    }
}
