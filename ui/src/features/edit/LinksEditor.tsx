import { useEffect, useState } from "react";
import { useI18n } from "../../lib/i18n";
import { recordsList, type EntityType, type RecordListRow } from "../../lib/ipc";
import { EntityIcon } from "../shell/icons";
import { ENTITY_ONE_KEY } from "../records/entities";
import { typeName, type EditField } from "./fieldEdit";
import { makePrimary } from "./multiEdit";

/** The record type a link field points at. */
export function linkTarget(f: Pick<EditField, "fieldType">): EntityType | null {
  switch (typeName(f.fieldType)) {
    case "crm_contact":
      return "contact";
    case "crm_company":
      return "company";
    case "crm_lead":
      return "lead";
    case "crm_deal":
      return "deal";
    default:
      return null;
  }
}

/**
 * Whether a link list has a primary the form may move: a deal's or lead's contacts and a
 * contact's companies. A company's contacts have none (the portal keeps no primary there).
 */
export function hasPrimary(entityType: EntityType, fieldName: string): boolean {
  return ((entityType === "deal" || entityType === "lead") && fieldName === "contactIds") || (entityType === "contact" && fieldName === "companyIds");
}

/**
 * The link fields the form offers: a deal's `contactId` (the portal's old single contact) is
 * left out when `contactIds` is there — the first of `contactIds` is the primary contact —, and
 * so is a contact's `companyId` beside `companyIds`.
 */
export function offeredLinkFields<F extends Pick<EditField, "name" | "fieldType">>(fields: readonly F[]): F[] {
  const names = new Set(fields.map((f) => f.name));
  return fields.filter((f) => linkTarget(f) !== null && !(f.name.endsWith("Id") && names.has(`${f.name}s`)));
}

interface Props {
  /** The type of the record being edited (which lists have a primary). */
  entityType: EntityType;
  fields: EditField[];
  /** Ids per link field (where a list has a primary, it is the first). */
  value: Record<string, number[]>;
  onChange: (name: string, ids: number[]) => void;
  /** Titles of linked records, by `type:id`. */
  titles: Record<string, string>;
  onTitle: (key: string, title: string) => void;
}

/** Links to contacts and companies: add by searching the local replica, remove, set the primary one. */
export function LinksEditor({ entityType, fields, value, onChange, titles, onTitle }: Props) {
  const { t } = useI18n();
  return (
    <section data-testid="edit-links">
      <h3>{t("edit.links")}</h3>
      {fields.map((f) => {
        const target = linkTarget(f);
        if (!target) return null;
        const ids = value[f.name] ?? [];
        const primary = f.isMultiple && hasPrimary(entityType, f.name);
        return (
          <div key={f.name} className="link-field" data-testid={`edit-link-${f.name}`}>
            <div className="link-field-label">{f.label}</div>
            <ul className="link-list">
              {ids.map((id, i) => (
                <li key={id} className="link-head" data-testid={`edit-linked-${target}-${id}`}>
                  <EntityIcon type={target} />
                  <span>{titles[`${target}:${id}`] ?? `#${id}`}</span>
                  {primary && i === 0 && <span className="tag">{t("card.primary")}</span>}
                  {primary && i > 0 && (
                    <button
                      type="button"
                      className="link-button small"
                      data-testid={`edit-make-primary-${target}-${id}`}
                      onClick={() => onChange(f.name, makePrimary(ids, id))}
                    >
                      {t("edit.makePrimary")}
                    </button>
                  )}
                  <button
                    type="button"
                    className="icon-button"
                    aria-label={`${t("edit.removeLink")}: ${titles[`${target}:${id}`] ?? `#${id}`}`}
                    title={t("edit.removeLink")}
                    onClick={() => onChange(f.name, ids.filter((x) => x !== id))}
                  >
                    ✕
                  </button>
                </li>
              ))}
            </ul>
            <RecordPicker
              entityType={target}
              label={t("edit.addLink", { what: t(ENTITY_ONE_KEY[target]) })}
              exclude={ids}
              onPick={(row) => {
                onTitle(`${target}:${row.key.id}`, row.title);
                onChange(f.name, f.isMultiple ? [...ids, row.key.id] : [row.key.id]);
              }}
            />
          </div>
        );
      })}
    </section>
  );
}

/** A search over the local replica (`records_list`); Enter or a click picks the highlighted record. */
export function RecordPicker({
  entityType,
  label,
  exclude,
  onPick,
}: {
  entityType: EntityType;
  label: string;
  exclude: readonly number[];
  onPick: (row: RecordListRow) => void;
}) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [rows, setRows] = useState<RecordListRow[]>([]);
  const [active, setActive] = useState(0);
  useEffect(() => {
    const q = text.trim();
    if (q === "") {
      setRows([]);
      return;
    }
    let live = true;
    const timer = window.setTimeout(() => {
      recordsList({ entityType, search: q, stageIds: [], responsibleIds: [], categoryId: null, sort: null, cursor: null, limit: 8 })
        .then((page) => {
          if (!live) return;
          setRows(page.rows.filter((r) => !exclude.includes(r.key.id)));
          setActive(0);
        })
        .catch(() => live && setRows([]));
    }, 150);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [text, entityType, exclude]);
  const pick = (row: RecordListRow | undefined) => {
    if (!row) return;
    onPick(row);
    setText("");
    setRows([]);
  };
  return (
    <div className="picker">
      <input
        type="search"
        value={text}
        placeholder={label}
        aria-label={label}
        data-testid={`picker-${entityType}`}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") {
            e.preventDefault();
            setActive((a) => Math.min(a + 1, rows.length - 1));
          } else if (e.key === "ArrowUp") {
            e.preventDefault();
            setActive((a) => Math.max(a - 1, 0));
          } else if (e.key === "Enter" && rows.length > 0) {
            // Enter picks; it does not save the form.
            e.preventDefault();
            e.stopPropagation();
            pick(rows[active]);
          } else if (e.key === "Escape" && text !== "") {
            e.preventDefault();
            e.stopPropagation();
            setText("");
          }
        }}
      />
      {text.trim() !== "" && (
        <ul className="picker-results" role="listbox" aria-label={label}>
          {rows.length === 0 && <li className="muted small">{t("edit.searchNothing")}</li>}
          {rows.map((r, i) => (
            <li key={r.key.id} role="option" aria-selected={i === active}>
              <button type="button" className={i === active ? "picker-row active" : "picker-row"} data-testid="picker-row" onMouseDown={(e) => e.preventDefault()} onClick={() => pick(r)}>
                <span>{r.title}</span>
                {(r.phone || r.email) && <span className="muted small">{r.phone ?? r.email}</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
