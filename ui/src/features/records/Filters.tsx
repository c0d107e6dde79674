import { useI18n } from "../../lib/i18n";
import type { EntityType, ReferenceLists } from "../../lib/ipc";

export interface FilterState {
  stageId: string | null;
  responsibleId: number | null;
  categoryId: number | null;
}

export const NO_FILTERS: FilterState = { stageId: null, responsibleId: null, categoryId: null };

/** The reference list (`crm.status` ENTITY_ID) holding the stages of a type and pipeline. */
export function stageListId(type: EntityType, categoryId: number | null): string | null {
  if (type === "lead") return "STATUS";
  if (type === "deal") return categoryId ? `DEAL_STAGE_${categoryId}` : "DEAL_STAGE";
  return null;
}

interface Props {
  entityType: EntityType;
  references: ReferenceLists | null;
  value: FilterState;
  onChange: (value: FilterState) => void;
}

/** Stage, responsible and pipeline filters; each offers only what the portal defines. */
export function Filters({ entityType, references, value, onChange }: Props) {
  const { t } = useI18n();
  if (!references) return null;
  const listId = stageListId(entityType, value.categoryId);
  const stages = references.stages.filter((s) =>
    entityType === "deal" && value.categoryId === null
      ? s.listId.startsWith("DEAL_STAGE")
      : s.listId === listId,
  );
  const categories = entityType === "deal" ? references.categories : [];
  const users = references.users.filter((u) => u.kind === "person");

  return (
    <div className="filters">
      {categories.length > 1 && (
        <label className="filter">
          <span>{t("list.filter.pipeline")}</span>
          <select
            value={value.categoryId ?? ""}
            onChange={(e) =>
              onChange({ ...value, stageId: null, categoryId: e.target.value === "" ? null : Number(e.target.value) })
            }
          >
            <option value="">{t("list.filter.any")}</option>
            {categories.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {stages.length > 0 && (
        <label className="filter">
          <span>{t("list.filter.stage")}</span>
          <select
            value={value.stageId ?? ""}
            onChange={(e) => onChange({ ...value, stageId: e.target.value === "" ? null : e.target.value })}
          >
            <option value="">{t("list.filter.any")}</option>
            {stages.map((s) => (
              <option key={`${s.listId}:${s.statusId}`} value={s.statusId}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {users.length > 0 && (
        <label className="filter">
          <span>{t("list.filter.responsible")}</span>
          <select
            value={value.responsibleId ?? ""}
            onChange={(e) =>
              onChange({ ...value, responsibleId: e.target.value === "" ? null : Number(e.target.value) })
            }
          >
            <option value="">{t("list.filter.any")}</option>
            {users.map((u) => (
              <option key={u.id} value={u.id}>
                {`${u.name} ${u.lastName}`.trim() || `#${u.id}`}
              </option>
            ))}
          </select>
        </label>
      )}
    </div>
  );
}
