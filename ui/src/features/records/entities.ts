import type { EntityType } from "../../lib/ipc/bindings/EntityType";
import type { MessageKey } from "../../lib/i18n";

/** The four entity types in the order the sidebar lists them. */
export const ENTITY_TYPES: readonly EntityType[] = ["lead", "deal", "contact", "company"];

export const ENTITY_NAV_KEY: Record<EntityType, MessageKey> = {
  lead: "nav.leads",
  deal: "nav.deals",
  contact: "nav.contacts",
  company: "nav.companies",
};

export const ENTITY_ONE_KEY: Record<EntityType, MessageKey> = {
  lead: "entity.lead.one",
  deal: "entity.deal.one",
  contact: "entity.contact.one",
  company: "entity.company.one",
};

/** The accent colour of each type, used by icons and overview tiles. */
export const ENTITY_ACCENT: Record<EntityType, string> = {
  lead: "#f08c00",
  deal: "#2f9e44",
  contact: "#1c7ed6",
  company: "#7048e8",
};
