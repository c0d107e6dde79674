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
