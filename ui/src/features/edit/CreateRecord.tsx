import { useEffect, useState } from "react";
import { useI18n } from "../../lib/i18n";
import { IpcFailure, recordCreate, referencesList, type EntityType, type IpcError, type RecordKey, type ReferenceLists } from "../../lib/ipc";
import { ErrorBanner } from "../shell/ErrorBanner";
import { EntityIcon } from "../shell/icons";
import { ENTITY_ONE_KEY } from "../records/entities";
import { fieldOfMeta } from "./fieldEdit";
import { linkTarget } from "./LinksEditor";
import { RecordForm } from "./RecordForm";

interface Props {
  entityType: EntityType;
  /** The record was saved here: its card opens (with its local id until it is uploaded). */
  onCreated: (key: RecordKey) => void;
  onClose: () => void;
}

/** Splits a type's metadata into the form's fields and its link fields. */
export function createFields(refs: ReferenceLists) {
  const isLink = (f: ReferenceLists["fields"][number]) => !f.isCustom && linkTarget(f) !== null;
  return {
    fields: refs.fields.filter((f) => !isLink(f)).map(fieldOfMeta),
    linkFields: refs.fields.filter(isLink).map(fieldOfMeta),
  };
}

/** The "New" panel beside a list: the create form for the list's type. */
export function CreateRecord({ entityType, onCreated, onClose }: Props) {
  const { t } = useI18n();
  const [refs, setRefs] = useState<ReferenceLists | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  useEffect(() => {
    let live = true;
    referencesList({ entityType })
      .then((r) => live && setRefs(r))
      .catch((e: unknown) => live && setError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) }));
    return () => {
      live = false;
    };
  }, [entityType]);
  const parts = refs ? createFields(refs) : null;
  const title = t("edit.newTitle", { type: t(ENTITY_ONE_KEY[entityType]).toLowerCase() });
  return (
    <aside className="card-panel" data-testid="create-panel" aria-label={title}>
      <div className="card-head">
        <span className="card-type">
          <EntityIcon type={entityType} />
          {title}
        </span>
        <button type="button" className="icon-button" onClick={onClose} aria-label={t("card.close")} title={`${t("card.close")} (Esc)`}>
          ✕
        </button>
      </div>
      <div className="card-body">
        {error && <ErrorBanner error={error} />}
        {parts && (
          <RecordForm
            mode="create"
            entityType={entityType}
            fields={parts.fields}
            linkFields={parts.linkFields}
            linkTitles={{}}
            entries={[]}
            withEntries={entityType !== "deal"}
            onSubmit={(edit) => recordCreate({ entityType, edit }).then((saved) => onCreated(saved.key))}
            onCancel={onClose}
          />
        )}
      </div>
    </aside>
  );
}
