//! Reference data: users, stages and statuses, pipelines (categories).

use serde::{Deserialize, Serialize};

/// Who a user is, for history attribution: a person, or a technical user (robot, integration)
/// that `user.get` does not return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum UserKind {
    Person,
    Technical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct User {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    pub last_name: String,
    pub active: bool,
    pub kind: UserKind,
}

impl User {
    pub fn display_name(&self) -> String {
        let full = format!("{} {}", self.name.trim(), self.last_name.trim());
        let full = full.trim();
        if full.is_empty() {
            format!("#{}", self.id)
        } else {
            full.to_string()
        }
    }
}

/// The outcome a stage stands for (`stageSemanticId`: P, S, F).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum StageSemantics {
    Process,
    Success,
    Failure,
}

impl StageSemantics {
    /// From `SEMANTICS` (`null`, `S`, `F`) or `stageSemanticId` (`P`, `S`, `F`).
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("S") | Some("success") => Self::Success,
            Some("F") | Some("failure") | Some("apology") => Self::Failure,
            _ => Self::Process,
        }
    }
}

/// One entry of a `crm.status.list` reference list: a stage of a pipeline, a lead status, a source, …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Stage {
    /// `ENTITY_ID`: `STATUS`, `DEAL_STAGE`, `DEAL_STAGE_1`, `SOURCE`, …
    pub list_id: String,
    /// `STATUS_ID`: `NEW`, `C1:WON`, …
    pub status_id: String,
    pub name: String,
    #[ts(type = "number")]
    pub sort: i64,
    pub semantics: StageSemantics,
    pub color: Option<String>,
    #[ts(type = "number | null")]
    pub category_id: Option<i64>,
}

/// A pipeline (`crm.category.list`); the default one has id 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Category {
    #[ts(type = "number")]
    pub id: i64,
    pub entity_type_id: i64,
    pub name: String,
    #[ts(type = "number")]
    pub sort: i64,
    pub is_default: bool,
}

/// The reference list (`crm.status` `ENTITY_ID`) that names a record's stage or status: lead
/// statuses are `STATUS`; deal stages are `DEAL_STAGE` in the default pipeline and
/// `DEAL_STAGE_<categoryId>` in the others. The same code (`NEW`) means different things in
/// different lists, so a name is always looked up by list and code together. The pipeline comes
/// from the stage id's `C<n>:` prefix when it has one, else from the record's `categoryId`.
/// Types without stages give `None`.
pub fn stage_list_id(
    entity_type: crate::EntityType,
    category_id: Option<i64>,
    stage_id: &str,
) -> Option<String> {
    match entity_type {
        crate::EntityType::Lead => Some("STATUS".to_string()),
        crate::EntityType::Deal => {
            let from_prefix = stage_id
                .strip_prefix('C')
                .and_then(|rest| rest.split_once(':'))
                .and_then(|(n, _)| n.parse::<i64>().ok());
            match from_prefix.or(category_id).unwrap_or(0) {
                0 => Some("DEAL_STAGE".to_string()),
                n => Some(format!("DEAL_STAGE_{n}")),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod stage_list_tests {
    use super::stage_list_id;
    use crate::EntityType;

    #[test]
    fn stage_names_are_looked_up_in_the_list_of_the_type_and_pipeline() {
        let cases: [(EntityType, Option<i64>, &str, Option<&str>); 7] = [
            // The lead status NEW and the deal stage NEW are different entries.
            (EntityType::Lead, None, "NEW", Some("STATUS")),
            (EntityType::Deal, Some(0), "NEW", Some("DEAL_STAGE")),
            (EntityType::Deal, None, "WON", Some("DEAL_STAGE")),
            (EntityType::Deal, Some(1), "C1:WON", Some("DEAL_STAGE_1")),
            // The prefix of the stage id wins over a stale category id.
            (EntityType::Deal, Some(0), "C7:NEW", Some("DEAL_STAGE_7")),
            (
                EntityType::Deal,
                Some(3),
                "PREPARATION",
                Some("DEAL_STAGE_3"),
            ),
            (EntityType::Contact, None, "NEW", None),
        ];
        for (entity_type, category, stage, want) in cases {
            assert_eq!(
                stage_list_id(entity_type, category, stage).as_deref(),
                want,
                "{entity_type:?} {category:?} {stage}"
            );
        }
    }
}
