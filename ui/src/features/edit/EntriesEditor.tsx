import { useI18n, type MessageKey } from "../../lib/i18n";
import type { MultiFieldKind } from "../../lib/ipc/bindings/MultiFieldKind";
import { valueTypeLabel } from "../records/RecordCard";
import { entryProblem, newEntry, VALUE_TYPES, type EntryDraft } from "./multiEdit";

interface Props {
  entries: EntryDraft[];
  onChange: (entries: EntryDraft[]) => void;
  /** Show each entry's problem (after a save was tried). */
  checked: boolean;
}

const KINDS: { kind: MultiFieldKind; add: MessageKey }[] = [
  { kind: "PHONE", add: "edit.addPhone" },
  { kind: "EMAIL", add: "edit.addEmail" },
];

/** Phones and e-mails: change, remove or add one entry at a time. */
export function EntriesEditor({ entries, onChange, checked }: Props) {
  const { t } = useI18n();
  const update = (uid: string, patch: Partial<EntryDraft>) =>
    onChange(entries.map((e) => (e.uid === uid ? { ...e, ...patch } : e)));
  return (
    <section data-testid="edit-entries">
      <h3>{t("card.contacts")}</h3>
      <ul className="entry-list">
        {entries.map((e) => {
          const problem = checked ? entryProblem(e) : null;
          const problemId = `problem-${e.uid}`;
          const types = VALUE_TYPES[e.kind].includes(e.valueType) ? VALUE_TYPES[e.kind] : [e.valueType, ...VALUE_TYPES[e.kind]];
          return (
            <li key={e.uid} className={e.removed ? "entry removed" : "entry"} data-testid={`edit-entry-${e.kind.toLowerCase()}`}>
              <select aria-label={t("edit.entryType")} value={e.valueType} disabled={e.removed} onChange={(ev) => update(e.uid, { valueType: ev.target.value })}>
                {types.map((vt) => (
                  <option key={vt} value={vt}>
                    {valueTypeLabel(vt, t, e.kind)}
                  </option>
                ))}
              </select>
              <input
                type={e.kind === "EMAIL" ? "email" : e.kind === "PHONE" ? "tel" : "text"}
                value={e.value}
                disabled={e.removed}
                aria-label={e.kind === "EMAIL" ? "E-mail" : t("edit.addPhone")}
                aria-invalid={problem !== null}
                aria-describedby={problem ? problemId : undefined}
                data-testid="edit-entry-value"
                onChange={(ev) => update(e.uid, { value: ev.target.value })}
              />
              {e.removed ? (
                <button type="button" className="link-button small" onClick={() => update(e.uid, { removed: false })}>
                  {t("edit.undoRemove")}
                </button>
              ) : (
                <button
                  type="button"
                  className="icon-button"
                  aria-label={`${t("edit.removeEntry")} ${e.value}`}
                  title={t("edit.removeEntry")}
                  onClick={() => (e.id === null ? onChange(entries.filter((x) => x.uid !== e.uid)) : update(e.uid, { removed: true }))}
                >
                  ✕
                </button>
              )}
              {problem && (
                <span className="field-problem" id={problemId} role="alert">
                  {t(problem)}
                </span>
              )}
            </li>
          );
        })}
      </ul>
      <div className="entry-add">
        {KINDS.map(({ kind, add }) => (
          <button key={kind} type="button" className="link-button small" data-testid={`add-${kind.toLowerCase()}`} onClick={() => onChange([...entries, newEntry(kind)])}>
            + {t(add)}
          </button>
        ))}
      </div>
    </section>
  );
}
