import { useI18n } from "../../lib/i18n";
import type { EntityType, ReferenceLists } from "../../lib/ipc";
import type { Stage } from "../../lib/ipc/bindings/Stage";
import { dateInputDraft, editorKind, splitMoney, UNREADABLE_DATE, type Draft, type EditField, type EditorKind } from "./fieldEdit";

/** Currencies offered for amounts, besides the one a record already has. */
export const CURRENCIES = ["RUB", "USD", "EUR", "KZT", "BYN", "UAH", "CNY"];

/** The reference list a record's stage or status comes from (the pipeline's for a deal). */
export function stageListId(entityType: EntityType, categoryId: number | null): string {
  if (entityType === "lead") return "STATUS";
  return categoryId ? `DEAL_STAGE_${categoryId}` : "DEAL_STAGE";
}

/** The choices of a `crm_status` field: stages of the pipeline, or the field's own list. */
export function statusChoices(
  f: Pick<EditField, "name" | "statusType">,
  entityType: EntityType,
  categoryId: number | null,
  refs: ReferenceLists | null,
): Stage[] {
  if (!refs) return [];
  const list =
    f.name === "stageId" || (f.name === "statusId" && entityType === "lead")
      ? stageListId(entityType, categoryId)
      : f.statusType;
  if (!list) return [];
  const all = [...refs.stages, ...refs.statuses];
  const seen = new Set<string>();
  return all
    .filter((s) => s.listId === list && !seen.has(s.statusId) && seen.add(s.statusId))
    .sort((a, b) => a.sort - b.sort);
}

interface Props {
  field: EditField;
  draft: Draft;
  onChange: (draft: Draft) => void;
  entityType: EntityType;
  categoryId: number | null;
  refs: ReferenceLists | null;
  id: string;
  invalid: boolean;
  describedBy?: string;
}

/** One field's input, chosen by its type; multiple fields get one input per value. */
export function FieldInput(props: Props) {
  const { t } = useI18n();
  const { field, draft, onChange } = props;
  const kind = editorKind(field);
  if (field.isMultiple && kind !== "enum") {
    const values = Array.isArray(draft) ? draft : draft === "" ? [] : [draft];
    const shown = values.length === 0 ? [""] : values;
    return (
      <div className="multi-values">
        {shown.map((v, i) => (
          <div className="multi-value" key={i}>
            <Scalar {...props} kind={kind} id={i === 0 ? props.id : `${props.id}-${i}`} value={v} onValue={(next) => onChange(shown.map((x, j) => (j === i ? next : x)))} />
            {shown.length > 1 && (
              <button type="button" className="icon-button" aria-label={t("edit.removeValue")} title={t("edit.removeValue")} onClick={() => onChange(shown.filter((_, j) => j !== i))}>
                ✕
              </button>
            )}
          </div>
        ))}
        <button type="button" className="link-button small" onClick={() => onChange([...shown, ""])}>
          + {t("edit.addValue")}
        </button>
      </div>
    );
  }
  if (kind === "enum" && field.isMultiple) {
    const values = Array.isArray(draft) ? draft : draft === "" ? [] : [draft];
    return (
      <select
        id={props.id}
        multiple
        value={values}
        aria-invalid={props.invalid}
        aria-describedby={props.describedBy}
        onChange={(e) => onChange(Array.from(e.target.selectedOptions, (o) => o.value))}
      >
        {field.options.map((o) => (
          <option key={o.id} value={String(o.id)}>
            {o.value}
          </option>
        ))}
      </select>
    );
  }
  return <Scalar {...props} kind={kind} value={Array.isArray(draft) ? (draft[0] ?? "") : draft} onValue={onChange} />;
}

function Scalar({
  field,
  kind,
  value,
  onValue,
  entityType,
  categoryId,
  refs,
  id,
  invalid,
  describedBy,
}: Props & { kind: EditorKind; value: string; onValue: (v: string) => void }) {
  const { t } = useI18n();
  const common = { id, "aria-invalid": invalid, "aria-describedby": describedBy, "data-testid": `edit-${field.name}` };
  switch (kind) {
    case "textarea":
      return <textarea {...common} rows={3} value={value} onChange={(e) => onValue(e.target.value)} />;
    case "integer":
    case "number":
      return <input {...common} type="text" inputMode="decimal" value={value} onChange={(e) => onValue(e.target.value)} />;
    case "date":
    case "datetime":
      // A day that does not exist empties the input: the draft keeps a marker instead, and the
      // input is left as typed (its value stays "") for the person to correct.
      return (
        <input
          {...common}
          type={kind === "date" ? "date" : "datetime-local"}
          value={value === UNREADABLE_DATE ? "" : value}
          onChange={(e) => onValue(dateInputDraft(e.target))}
        />
      );
    case "bool":
      return (
        <label className="check">
          <input {...common} type="checkbox" checked={value === "Y"} onChange={(e) => onValue(e.target.checked ? "Y" : "N")} />
          <span>{value === "Y" ? t("edit.yes") : t("edit.no")}</span>
        </label>
      );
    case "money": {
      const { amount, currency } = splitMoney(value);
      const currencies = currency && !CURRENCIES.includes(currency) ? [currency, ...CURRENCIES] : CURRENCIES;
      return (
        <span className="money-input">
          <input {...common} type="text" inputMode="decimal" aria-label={t("edit.amount")} value={amount} onChange={(e) => onValue(`${e.target.value}|${currency || "RUB"}`)} />
          <select aria-label={t("edit.currency")} value={currency || "RUB"} onChange={(e) => onValue(`${amount}|${e.target.value}`)}>
            {currencies.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </span>
      );
    }
    case "enum":
      return (
        <Choice common={common} value={value} onValue={onValue} required={field.isRequired} choices={field.options.map((o) => [String(o.id), o.value])} />
      );
    case "user": {
      const users = [...(refs?.users ?? [])].sort((a, b) => Number(b.active) - Number(a.active));
      const choices: [string, string][] = users.map((u) => [String(u.id), `${u.name} ${u.lastName}`.trim() || `#${u.id}`]);
      if (value !== "" && !choices.some(([v]) => v === value)) choices.unshift([value, `#${value}`]);
      return <Choice common={common} value={value} onValue={onValue} required={field.isRequired} choices={choices} />;
    }
    case "status": {
      const choices: [string, string][] = statusChoices(field, entityType, categoryId, refs).map((s) => [s.statusId, s.name]);
      if (value !== "" && !choices.some(([v]) => v === value)) choices.unshift([value, value]);
      return <Choice common={common} value={value} onValue={onValue} required={field.isRequired} choices={choices} />;
    }
    case "category": {
      const choices: [string, string][] = (refs?.categories ?? []).map((c) => [String(c.id), c.name]);
      if (value !== "" && !choices.some(([v]) => v === value)) choices.unshift([value, `#${value}`]);
      return <Choice common={common} value={value} onValue={onValue} required={field.isRequired} choices={choices} />;
    }
    case "currency": {
      const codes = value && !CURRENCIES.includes(value) ? [value, ...CURRENCIES] : CURRENCIES;
      return <Choice common={common} value={value} onValue={onValue} required={field.isRequired} choices={codes.map((c) => [c, c])} />;
    }
    default:
      return <input {...common} type={field.fieldType === "url" ? "url" : "text"} value={value} onChange={(e) => onValue(e.target.value)} />;
  }
}

function Choice({
  common,
  value,
  onValue,
  choices,
  required,
}: {
  common: Record<string, unknown>;
  value: string;
  onValue: (v: string) => void;
  choices: [string, string][];
  required: boolean;
}) {
  const { t } = useI18n();
  return (
    <select {...common} value={value} onChange={(e) => onValue(e.target.value)}>
      {(!required || value === "") && <option value="">{t("edit.none")}</option>}
      {choices.map(([v, label]) => (
        <option key={v} value={v}>
          {label}
        </option>
      ))}
    </select>
  );
}
