//! Field metadata as `crm.item.fields` describes it: labels, types, enumerations.

use serde::{Deserialize, Serialize};

/// A field's type, as `crm.item.fields` names it. Unknown types are kept as text, so a portal
/// that adds a new type still shows its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FieldType {
    Integer,
    Double,
    String,
    Text,
    Boolean,
    Date,
    Datetime,
    Enumeration,
    Money,
    Url,
    File,
    Address,
    User,
    Employee,
    CrmStatus,
    CrmCurrency,
    CrmCategory,
    CrmCompany,
    CrmContact,
    CrmLead,
    CrmDeal,
    CrmEntity,
    Crm,
    Location,
    Other(String),
}

impl FieldType {
    pub fn parse(s: &str) -> Self {
        match s {
            "integer" => Self::Integer,
            "double" => Self::Double,
            "string" => Self::String,
            "text" => Self::Text,
            "boolean" | "char" => Self::Boolean,
            "date" => Self::Date,
            "datetime" => Self::Datetime,
            "enumeration" => Self::Enumeration,
            "money" => Self::Money,
            "url" => Self::Url,
            "file" => Self::File,
            "address" => Self::Address,
            "user" => Self::User,
            "employee" => Self::Employee,
            "crm_status" => Self::CrmStatus,
            "crm_currency" => Self::CrmCurrency,
            "crm_category" => Self::CrmCategory,
            "crm_company" => Self::CrmCompany,
            "crm_contact" => Self::CrmContact,
            "crm_lead" => Self::CrmLead,
            "crm_deal" => Self::CrmDeal,
            "crm_entity" => Self::CrmEntity,
            "crm" => Self::Crm,
            "location" => Self::Location,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Integer => "integer",
            Self::Double => "double",
            Self::String => "string",
            Self::Text => "text",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Enumeration => "enumeration",
            Self::Money => "money",
            Self::Url => "url",
            Self::File => "file",
            Self::Address => "address",
            Self::User => "user",
            Self::Employee => "employee",
            Self::CrmStatus => "crm_status",
            Self::CrmCurrency => "crm_currency",
            Self::CrmCategory => "crm_category",
            Self::CrmCompany => "crm_company",
            Self::CrmContact => "crm_contact",
            Self::CrmLead => "crm_lead",
            Self::CrmDeal => "crm_deal",
            Self::CrmEntity => "crm_entity",
            Self::Crm => "crm",
            Self::Location => "location",
            Self::Other(s) => s,
        }
    }
}

/// One option of an enumeration field (`items: [{"ID":"79","VALUE":"…"}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FieldOption {
    pub id: i64,
    pub value: String,
}

/// What the replica knows about one field of one entity type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FieldMeta {
    /// The name in `crm.item` requests: camelCase for system fields, `UF_CRM_…` for custom ones.
    pub name: String,
    pub field_type: FieldType,
    /// The label a person reads (`formLabel` for custom fields, `title` otherwise).
    pub label: String,
    pub is_required: bool,
    pub is_read_only: bool,
    pub is_immutable: bool,
    pub is_multiple: bool,
    /// True for custom (`UF_CRM_*`) fields.
    pub is_custom: bool,
    /// For `crm_status` fields: the reference list (`SOURCE`, `DEAL_TYPE`, …).
    pub status_type: Option<String>,
    pub options: Vec<FieldOption>,
}
