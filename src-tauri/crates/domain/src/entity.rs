//! The four CRM entity types Kartoteka replicates (Bitrix24 `entityTypeId`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A CRM entity type. The discriminant is Bitrix24's `entityTypeId`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum EntityType {
    Lead,
    Deal,
    Contact,
    Company,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entity type: {0}")]
pub struct UnknownEntityType(pub String);

impl EntityType {
    /// All four types, in the order the UI lists them.
    pub const ALL: [EntityType; 4] = [
        EntityType::Lead,
        EntityType::Deal,
        EntityType::Contact,
        EntityType::Company,
    ];

    /// Bitrix24 `entityTypeId`.
    pub const fn type_id(self) -> i64 {
        match self {
            EntityType::Lead => 1,
            EntityType::Deal => 2,
            EntityType::Contact => 3,
            EntityType::Company => 4,
        }
    }

    pub fn from_type_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.type_id() == id)
    }

    /// Bitrix24 `entityTypeName`: LEAD, DEAL, CONTACT, COMPANY.
    pub const fn type_name(self) -> &'static str {
        match self {
            EntityType::Lead => "LEAD",
            EntityType::Deal => "DEAL",
            EntityType::Contact => "CONTACT",
            EntityType::Company => "COMPANY",
        }
    }

    /// Lower-case name, as used by timeline comments (`ENTITY_TYPE`) and the CLI (`--type deal`).
    pub const fn slug(self) -> &'static str {
        match self {
            EntityType::Lead => "lead",
            EntityType::Deal => "deal",
            EntityType::Contact => "contact",
            EntityType::Company => "company",
        }
    }

    /// The short prefix used by `crm`-type custom field values (`D_1`, `C_2`, `CO_3`, `L_4`).
    pub const fn abbr(self) -> &'static str {
        match self {
            EntityType::Lead => "L",
            EntityType::Deal => "D",
            EntityType::Contact => "C",
            EntityType::Company => "CO",
        }
    }

    /// The user-field entity id (`CRM_DEAL`, …).
    pub const fn uf_entity_id(self) -> &'static str {
        match self {
            EntityType::Lead => "CRM_LEAD",
            EntityType::Deal => "CRM_DEAL",
            EntityType::Contact => "CRM_CONTACT",
            EntityType::Company => "CRM_COMPANY",
        }
    }

    /// Whether records of this type carry multi-fields (`fm`): deals do not.
    pub const fn has_multi_fields(self) -> bool {
        !matches!(self, EntityType::Deal)
    }

    /// Whether the portal keeps stage history for this type (`crm.stagehistory.list`).
    pub const fn has_stage_history(self) -> bool {
        matches!(self, EntityType::Lead | EntityType::Deal)
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl FromStr for EntityType {
    type Err = UnknownEntityType;

    /// Accepts the slug (`deal`), the type name (`DEAL`) or the numeric id (`2`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(id) = t.parse::<i64>() {
            return Self::from_type_id(id).ok_or_else(|| UnknownEntityType(s.to_string()));
        }
        Self::ALL
            .into_iter()
            .find(|e| e.slug().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownEntityType(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ids_round_trip_through_every_spelling() {
        for t in EntityType::ALL {
            assert_eq!(EntityType::from_type_id(t.type_id()), Some(t));
            assert_eq!(t.slug().parse::<EntityType>(), Ok(t));
            assert_eq!(t.type_name().parse::<EntityType>(), Ok(t));
            assert_eq!(t.type_id().to_string().parse::<EntityType>(), Ok(t));
        }
        assert!("invoice".parse::<EntityType>().is_err());
        assert!("7".parse::<EntityType>().is_err());
    }
}
