//! Milestones 里程碑 reached on a long job (with the customer's witness and photos as
//! evidence) and training 培训 given on site (what, to whom, how it went): offline,
//! appended records sent home with the next sync.

use chrono::{Local, Utc};
use onsite_domain::protocol::Entity;
use onsite_domain::records::{Milestone, Training};
use serde::Deserialize;
use ts_rs::TS;
use uuid::Uuid;

use crate::orders::{OrderScreen, order_id, trimmed};
use crate::{App, AppError};

/// A milestone reached now.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct MilestoneInput {
    pub order_id: String,
    pub title: String,
    /// Who on the customer's side witnessed it.
    pub witness_name: Option<String>,
    /// Photos of the order (their SHA-256) that show it.
    pub photos: Vec<String>,
}

/// Training given today.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct TrainingInput {
    pub order_id: String,
    pub material: String,
    /// The people trained, as typed: one per line or separated by commas (， 、 ,).
    pub attendees: String,
    pub evaluation: Option<String>,
}

/// The names in a typed list: split on new lines and commas (Chinese or not), trimmed,
/// blanks left out.
fn names(typed: &str) -> Vec<String> {
    typed
        .split(['\n', ',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

impl App {
    /// Records a milestone reached now; the domain refuses one without a title.
    pub async fn record_milestone(&self, input: MilestoneInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let milestone = Milestone {
            id: Uuid::now_v7(),
            work_order_id: order,
            title: input.title.trim().to_owned(),
            reached_at: Utc::now(),
            witness_name: trimmed(input.witness_name),
            photos: input.photos,
            voids: None,
        };
        milestone.validate()?;
        self.append_under(order, Entity::Milestone, milestone).await
    }

    /// Records training given today (the laptop's date).
    pub async fn record_training(&self, input: TrainingInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let training = Training {
            id: Uuid::now_v7(),
            work_order_id: order,
            material: input.material.trim().to_owned(),
            attendees: names(&input.attendees),
            evaluation: trimmed(input.evaluation),
            held_on: Local::now().date_naive(),
            voids: None,
        };
        training.validate()?;
        self.append_under(order, Entity::Training, training).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attendees_are_read_from_lines_and_either_kind_of_comma() {
        assert_eq!(
            names("张三，李四、王五\n 赵六 ,, \n"),
            ["张三", "李四", "王五", "赵六"]
        );
        assert!(names(" ，\n").is_empty());
    }
}
