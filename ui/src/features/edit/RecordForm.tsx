import { useEffect, useMemo, useRef, useState } from "react";
import { useI18n, type MessageKey } from "../../lib/i18n";
import { IpcFailure, referencesList, type EntityType, type IpcError, type ReferenceLists } from "../../lib/ipc";
import type { FieldProblem } from "../../lib/ipc/bindings/FieldProblem";
import type { MultiField } from "../../lib/ipc/bindings/MultiField";
import type { RecordEdit } from "../../lib/ipc/bindings/RecordEdit";
import { ErrorBanner } from "../shell/ErrorBanner";
import { EntriesEditor } from "./EntriesEditor";
import { changedFields, isEditable, problemsOf, toDraft, type Draft, type EditField } from "./fieldEdit";
import { FieldInput, statusChoices } from "./FieldInput";
import { LinksEditor, offeredLinkFields } from "./LinksEditor";
import { entryDrafts, entryEdits, entryProblem, linkIds, linkValue, problemField, problemText, refusedProblems, type EntryDraft } from "./multiEdit";

interface Props {
  mode: "edit" | "create";
  entityType: EntityType;
  fields: EditField[];
  linkFields: EditField[];
  /** Titles of linked records by `type:id`. */
  linkTitles: Record<string, string>;
  entries: MultiField[];
  /** Whether the type has phones and e-mails (deals have none of their own). */
  withEntries: boolean;
  onSubmit: (edit: RecordEdit) => Promise<unknown>;
  onCancel: () => void;
}

/** Builds the edit the form's state makes: only changed fields, links and entries. */
export function formEdit(
  fields: readonly EditField[],
  drafts: Readonly<Record<string, Draft>>,
  linkFields: readonly EditField[],
  links: Readonly<Record<string, number[]>>,
  original: readonly MultiField[],
  entries: readonly EntryDraft[],
): RecordEdit {
  const out: RecordEdit = { fields: changedFields(fields, drafts), multiFields: entryEdits(original, entries) };
  for (const f of linkFields) {
    const ids = links[f.name];
    if (!ids) continue;
    const v = linkValue(f.raw, f.isMultiple, ids);
    if (v !== undefined) out.fields[f.name] = v;
  }
  return out;
}

/** The edit and create form: every editable field by its type, phones and e-mails, links. */
export function RecordForm({ mode, entityType, fields, linkFields: allLinkFields, linkTitles, entries: original, withEntries, onSubmit, onCancel }: Props) {
  const linkFields = useMemo(() => offeredLinkFields(allLinkFields), [allLinkFields]);
  const { t, lang } = useI18n();
  const [refs, setRefs] = useState<ReferenceLists | null>(null);
  const [drafts, setDrafts] = useState<Record<string, Draft>>({});
  const [entries, setEntries] = useState<EntryDraft[]>(() => entryDrafts(original));
  const [links, setLinks] = useState<Record<string, number[]>>(() =>
    Object.fromEntries(linkFields.map((f) => [f.name, linkIds(f.raw)])),
  );
  const [titles, setTitles] = useState<Record<string, string>>(linkTitles);
  const [checked, setChecked] = useState(false);
  const [refused, setRefused] = useState<FieldProblem[]>([]);
  const [error, setError] = useState<IpcError | null>(null);
  const [note, setNote] = useState<MessageKey | null>(null);
  const [saving, setSaving] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    let live = true;
    referencesList({ entityType })
      .then((r) => live && setRefs(r))
      .catch(() => live && setRefs(null));
    return () => {
      live = false;
    };
  }, [entityType]);

  // A new deal or lead starts in the first stage of its pipeline, as on the portal.
  useEffect(() => {
    if (mode !== "create" || !refs) return;
    const stage = fields.find((f) => f.name === "stageId" || (f.name === "statusId" && entityType === "lead"));
    if (!stage) return;
    setDrafts((d) => {
      if (d[stage.name] !== undefined) return d;
      const category = d.categoryId ?? "";
      const first = statusChoices(stage, entityType, Number(Array.isArray(category) ? category[0] : category) || 0, refs)[0];
      return first ? { ...d, [stage.name]: first.statusId } : d;
    });
  }, [mode, refs, fields, entityType]);

  // The first input takes the keyboard when the form opens.
  useEffect(() => {
    formRef.current?.querySelector<HTMLElement>("input, select, textarea")?.focus();
  }, []);

  const editable = useMemo(() => fields.filter((f) => isEditable(f, mode)), [fields, mode]);
  const draftOf = (f: EditField) => drafts[f.name] ?? toDraft(f);
  const categoryField = fields.find((f) => f.name === "categoryId");
  const categoryId = categoryField ? Number(draftOf(categoryField) || 0) : null;

  const setDraft = (f: EditField, d: Draft) => {
    setNote(null);
    setDrafts((before) => {
      const next = { ...before, [f.name]: d };
      // Another pipeline has other stages: the deal starts in the new pipeline's first stage.
      if (f.name === "categoryId") {
        const stage = fields.find((x) => x.name === "stageId");
        const first = stage ? statusChoices(stage, entityType, Number(d || 0), refs)[0] : undefined;
        if (stage && first) next.stageId = first.statusId;
      }
      return next;
    });
  };

  const local = checked ? problemsOf(fields.filter((f) => isEditable(f, mode)), drafts, mode) : {};
  const portalProblems = (name: string) => refused.filter((p) => problemField(p) === name).map((p) => problemText(p, lang));

  const submit = () => {
    setChecked(true);
    setError(null);
    setRefused([]);
    const problems = problemsOf(editable, drafts, mode);
    if (Object.keys(problems).length > 0 || entries.some((e) => entryProblem(e) !== null)) return;
    const edit = formEdit(fields, drafts, linkFields, links, original, entries);
    if (Object.keys(edit.fields).length === 0 && edit.multiFields.length === 0 && mode === "edit") {
      setNote("edit.nothingChanged");
      return;
    }
    setSaving(true);
    onSubmit(edit)
      .catch((e: unknown) => {
        const failure = e instanceof IpcFailure ? e.error : { code: "internal" as const, message: String(e) };
        const problems = refusedProblems(failure);
        if (problems.length > 0) setRefused(problems);
        else setError(failure);
      })
      .finally(() => setSaving(false));
  };

  const hasProblems = Object.keys(local).length > 0 || refused.length > 0;
  const unplaced = refused.filter((p) => problemField(p) !== "fm" && !editable.some((f) => f.name === problemField(p)) && !linkFields.some((f) => f.name === p.field));

  return (
    <form
      ref={formRef}
      className="record-form"
      data-testid="record-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          onCancel();
        } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          submit();
        }
      }}
    >
      {hasProblems && (
        <div className="form-problems" role="alert" data-testid="form-problems">
          {t("edit.problems")}
          {unplaced.map((p) => (
            <div key={p.field}>
              {p.label}: {problemText(p, lang)}
            </div>
          ))}
        </div>
      )}
      {error && <ErrorBanner error={error} />}
      <dl className="field-list edit-fields">
        {editable.map((f) => {
          const id = `edit-field-${f.name}`;
          const messages = [...(local[f.name] ? [t(local[f.name] as MessageKey)] : []), ...portalProblems(f.name)];
          const problemId = messages.length > 0 ? `${id}-problem` : undefined;
          return (
            <div className={messages.length > 0 ? "field-row invalid" : "field-row"} key={f.name} data-testid={`form-field-${f.name}`}>
              <dt>
                <label htmlFor={id} title={f.name}>
                  {f.label}
                  {f.isRequired && (
                    <span className="required" aria-label={t("edit.required")}>
                      {" "}*
                    </span>
                  )}
                </label>
              </dt>
              <dd>
                <FieldInput
                  field={f}
                  draft={draftOf(f)}
                  onChange={(d) => setDraft(f, d)}
                  entityType={entityType}
                  categoryId={categoryId}
                  refs={refs}
                  id={id}
                  invalid={messages.length > 0}
                  describedBy={problemId}
                />
                {messages.length > 0 && (
                  <span className="field-problem" id={problemId} data-testid={`problem-${f.name}`}>
                    {messages.join(" ")}
                  </span>
                )}
              </dd>
            </div>
          );
        })}
      </dl>
      {withEntries && <EntriesEditor entries={entries} onChange={setEntries} checked={checked} />}
      {portalProblems("fm").map((m) => (
        <span key={m} className="field-problem">
          {m}
        </span>
      ))}
      {linkFields.length > 0 && (
        <LinksEditor
          entityType={entityType}
          fields={linkFields}
          value={links}
          onChange={(name, ids) => setLinks((l) => ({ ...l, [name]: ids }))}
          titles={titles}
          onTitle={(key, title) => setTitles((x) => ({ ...x, [key]: title }))}
        />
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={saving} data-testid="form-save">
          {saving ? t("edit.saving") : mode === "create" ? t("edit.create") : t("edit.save")}
        </button>
        <button type="button" className="secondary" onClick={onCancel} data-testid="form-cancel">
          {t("edit.cancel")}
        </button>
        <span className="muted small">{note ? t(note) : t("edit.hint")}</span>
      </div>
    </form>
  );
}
