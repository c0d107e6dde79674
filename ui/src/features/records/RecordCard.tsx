import { useEffect, useRef, useState } from "react";
import { dictionaries, useI18n, type Language, type MessageKey, type Translate } from "../../lib/i18n";
import { formatDateTime, formatFieldValue } from "../../lib/format";
import {
  IpcFailure,
  recordDelete,
  recordGet,
  recordRestore,
  recordUpdate,
  type IpcError,
  type RecordCard as Card,
  type RecordKey,
} from "../../lib/ipc";
import { RecordForm } from "../edit/RecordForm";
import { isLocalRecord } from "../edit/local";
import { ConfirmDialog } from "../shell/ConfirmDialog";
import type { MultiField } from "../../lib/ipc/bindings/MultiField";
import { HistoryTab } from "../history/HistoryTab";
import { ErrorBanner } from "../shell/ErrorBanner";
import { EntityIcon } from "../shell/icons";
import { ENTITY_ONE_KEY } from "./entities";
import { FieldValue } from "./FieldValue";

interface Props {
  recordKey: RecordKey;
  revision: number;
  onOpen: (key: RecordKey) => void;
  onClose: () => void;
}

/**
 * The kind of a phone or e-mail (WORK, MOBILE, …) in the user's language; a website is a
 * website, whatever its kind; messenger names as they are.
 */
export function valueTypeLabel(valueType: string, t: Translate, kind?: string): string {
  if (kind === "WEB") return t("card.website");
  const key = `card.valueType.${valueType.toUpperCase()}`;
  return key in dictionaries.ru ? t(key as MessageKey) : valueType;
}

/** Amount fields and the field naming their currency. */
const MONEY_FIELDS: Record<string, string> = {
  opportunity: "currencyId",
  taxValue: "currencyId",
  opportunityAccount: "accountCurrencyId",
  taxValueAccount: "accountCurrencyId",
};

/**
 * Amounts shown the way lists show them ("1 350 000,50 ₽"): an amount field takes its currency
 * from the currency field, which then is not listed on its own.
 */
export function withMoney(fields: Card["fields"]): Card["fields"] {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const used = new Set<string>();
  const out = fields.map((f) => {
    const currencyField = MONEY_FIELDS[f.name];
    const currency = currencyField ? byName.get(currencyField)?.values[0] : undefined;
    if (!currencyField || !currency || f.values.length === 0) return f;
    used.add(currencyField);
    return { ...f, fieldType: "money" as const, values: f.values.map((v) => `${v} ${currency}`) };
  });
  return out.filter((f) => !used.has(f.name));
}

function multiFieldHref(m: MultiField): string | null {
  // Only schemes the OS hands to a mail or phone app; any other value stays plain text.
  if (m.kind === "PHONE") return `tel:${m.value.replace(/[^\d+]/g, "")}`;
  if (m.kind === "EMAIL" && /^[^\s@]+@[^\s@]+$/.test(m.value)) return `mailto:${m.value}`;
  return null;
}

/** The record card: every field with its label, phones and e-mails, links to other cards. */
export function RecordCard({ recordKey, revision, onOpen, onClose }: Props) {
  const { t, lang } = useI18n();
  const [card, setCard] = useState<Card | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const closeRef = useRef<HTMLButtonElement>(null);

  // Bumped after this card's own saves, so it reloads even before the shell's event arrives.
  const [saves, setSaves] = useState(0);
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    setError(null);
    recordGet({ key: recordKey })
      .then((c) => live && setCard(c))
      .catch((e: unknown) => live && setError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) }));
    return () => {
      live = false;
    };
  }, [recordKey.entityType, recordKey.id, revision, saves]);
  useEffect(() => {
    setEditing(false);
    setConfirmDelete(false);
  }, [recordKey.entityType, recordKey.id]);
  const fail = (e: unknown) => setError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) });
  const remove = () => {
    setBusy(true);
    recordDelete({ key: recordKey })
      .then(() => {
        setConfirmDelete(false);
        setSaves((n) => n + 1);
      })
      .catch(fail)
      .finally(() => setBusy(false));
  };
  const restore = () => {
    setBusy(true);
    // A deletion not yet uploaded is undone (the same record, shown again here); one the portal
    // took brings the record back as a new one, which the card then shows.
    recordRestore({ key: recordKey })
      .then((saved) => {
        if (saved.key.entityType === recordKey.entityType && saved.key.id === recordKey.id) setSaves((n) => n + 1);
        else onOpen(saved.key);
      })
      .catch(fail)
      .finally(() => setBusy(false));
  };
  const linkTitles = Object.fromEntries((card?.links ?? []).map((l) => [`${l.key.entityType}:${l.key.id}`, l.title]));

  useEffect(() => closeRef.current?.focus(), [recordKey.entityType, recordKey.id]);

  const [showEmpty, setShowEmpty] = useState(false);
  // Another card starts with its empty fields folded again.
  useEffect(() => setShowEmpty(false), [recordKey.entityType, recordKey.id]);
  const fields = card ? withMoney(card.fields) : [];
  const filled = fields.filter((f) => f.values.length > 0);
  const empty = fields.filter((f) => f.values.length === 0);
  const [tab, setTab] = useState<"fields" | "history">("fields");
  const standard = filled.filter((f) => !f.isCustom);
  const custom = filled.filter((f) => f.isCustom);

  return (
    <aside
      className="card-panel"
      data-testid="record-card"
      data-entity-type={recordKey.entityType}
      data-record-id={recordKey.id}
      aria-label={card?.title ?? t(ENTITY_ONE_KEY[recordKey.entityType])}
      onKeyDown={(e) => {
        if (e.key === "Escape" && !editing && !confirmDelete) {
          e.preventDefault();
          e.stopPropagation();
          onClose();
        }
      }}
    >
      <div className="card-head">
        <span className="card-type">
          <EntityIcon type={recordKey.entityType} />
          {/* A record made here has no portal id yet: its local number means nothing to a person. */}
          {t(ENTITY_ONE_KEY[recordKey.entityType])}
          {isLocalRecord(recordKey) ? "" : ` #${recordKey.id}`}
        </span>
        <span className="card-actions">
          {card && !card.deleted && !editing && (
            <>
              <button type="button" className="secondary small" data-testid="card-edit" onClick={() => { setTab("fields"); setEditing(true); }}>
                {t("edit.edit")}
              </button>
              <button type="button" className="secondary small" data-testid="card-delete" onClick={() => setConfirmDelete(true)}>
                {t("edit.delete")}
              </button>
            </>
          )}
          {card?.deleted && (
            <button type="button" className="secondary small" data-testid="card-restore" disabled={busy} onClick={restore}>
              {t("edit.restore")}
            </button>
          )}
          <button ref={closeRef} type="button" className="icon-button" onClick={onClose} aria-label={t("card.close")} title={`${t("card.close")} (Esc)`}>
            ✕
          </button>
        </span>
      </div>
      {confirmDelete && card && (
        <ConfirmDialog title={t("edit.delete")} confirmLabel={t("edit.delete")} danger busy={busy} onConfirm={remove} onCancel={() => setConfirmDelete(false)}>
          <p>{t("edit.deleteConfirm", { title: card.title })}</p>
        </ConfirmDialog>
      )}
      {error && <ErrorBanner error={error} />}
      {card && (
        <div className="card-body">
          <h2 className="card-title" data-testid="card-title">
            {card.title}
          </h2>
          <div className="card-meta">
            {card.stageName && (
              <span className="stage-chip">
                <span className="stage-dot" style={{ background: card.stageColor ?? "#adb5bd" }} aria-hidden="true" />
                {card.stageName}
              </span>
            )}
            {card.responsibleName && <span className="muted">{card.responsibleName}</span>}
            {card.updatedTime && <span className="muted">{formatDateTime(card.updatedTime, lang)}</span>}
            {isLocalRecord(card.key) && (
              <span className="tag tag-local" data-testid="chip-not-uploaded">
                {t("edit.notUploaded")}
              </span>
            )}
            {(card.pendingFields ?? []).length > 0 && (
              <span className="tag tag-pending" data-testid="chip-pending">
                {t("edit.pending")}
              </span>
            )}
            {card.deleted && (
              <span className="tag tag-hidden" data-testid="chip-deleted">
                {t("edit.deleted")}
              </span>
            )}
          </div>
          <div className="card-tabs" role="tablist">
            {(["fields", "history"] as const).map((name) => (
              <button key={name} type="button" role="tab" aria-selected={tab === name} data-testid={`card-tab-${name}`} className={tab === name ? "card-tab active" : "card-tab"} onClick={() => setTab(name)}>
                {t(name === "fields" ? "history.tabFields" : "history.tab")}
              </button>
            ))}
          </div>
          {tab === "history" && <HistoryTab recordKey={recordKey} revision={revision + saves} onReverted={() => setSaves((n) => n + 1)} />}
          {tab === "fields" && editing && (
            <RecordForm
              key={`${recordKey.entityType}:${recordKey.id}`}
              mode="edit"
              entityType={recordKey.entityType}
              fields={card.fields}
              linkFields={card.linkFields ?? []}
              linkTitles={linkTitles}
              entries={card.multiFields}
              withEntries={recordKey.entityType !== "deal"}
              onSubmit={(edit) =>
                recordUpdate({ key: recordKey, edit }).then(() => {
                  setEditing(false);
                  setSaves((n) => n + 1);
                })
              }
              onCancel={() => setEditing(false)}
            />
          )}
          {tab === "fields" && !editing && <>

          {card.multiFields.length > 0 && (
            <section>
              <h3>{t("card.contacts")}</h3>
              <ul className="mf-list">
                {card.multiFields.map((m) => {
                  const href = multiFieldHref(m);
                  return (
                    <li key={m.id} data-testid={`mf-${m.kind.toLowerCase()}`}>
                      <span className="mf-kind">{valueTypeLabel(m.valueType, t, m.kind)}</span>
                      {href ? <a href={href}>{m.value}</a> : <span>{m.value}</span>}
                    </li>
                  );
                })}
              </ul>
            </section>
          )}

          {card.links.length > 0 && (
            <section>
              <h3>{t("card.links")}</h3>
              <ul className="link-list">
                {card.links.map((l) => (
                  <li key={`${l.key.entityType}:${l.key.id}`} data-testid={`link-${l.key.entityType}-${l.key.id}`}>
                    <div className="link-head">
                      <button type="button" className="link-button" onClick={() => onOpen(l.key)}>
                        <EntityIcon type={l.key.entityType} />
                        <span>{l.title}</span>
                      </button>
                      {l.isPrimary && <span className="tag">{t("card.primary")}</span>}
                    </div>
                    {(l.phone || l.email) && (
                      <div className="link-contacts">
                        {l.phone && (
                          <a href={`tel:${l.phone.replace(/[^\d+]/g, "")}`} data-testid="link-phone">
                            {l.phone}
                          </a>
                        )}
                        {l.email && /^[^\s@]+@[^\s@]+$/.test(l.email) ? (
                          <a href={`mailto:${l.email}`} data-testid="link-email">
                            {l.email}
                          </a>
                        ) : (
                          l.email && <span data-testid="link-email">{l.email}</span>
                        )}
                      </div>
                    )}
                  </li>
                ))}
              </ul>
              {card.linksTotal > card.links.length && (
                <p className="muted" data-testid="links-more">
                  {t("card.moreLinks", { n: card.linksTotal - card.links.length })}
                </p>
              )}
            </section>
          )}

          <FieldTable title={t("card.fields")} fields={standard} />
          {custom.length > 0 && <FieldTable title={t("card.custom")} fields={custom} />}
          {empty.length > 0 && (
            <section className="empty-fields">
              <button type="button" className="link-button muted" aria-expanded={showEmpty} onClick={() => setShowEmpty((v) => !v)}>
                {showEmpty ? t("card.hideEmpty") : t("card.showEmpty", { n: empty.length })}
              </button>
              {showEmpty && (
                <dl className="field-list">
                  {empty.map((f) => (
                    <div className="field-row empty" key={f.name}>
                      <dt title={f.name}>{f.label}</dt>
                      <dd>{t("card.noValue")}</dd>
                    </div>
                  ))}
                </dl>
              )}
            </section>
          )}
          </>}
        </div>
      )}
    </aside>
  );
}

/** A value as the card shows it; a user the replica does not know is named as such, not by id. */
function cardValue(value: string, fieldType: string, lang: Language, t: Translate): string {
  if ((fieldType === "user" || fieldType === "employee") && /^#\d+$/.test(value)) return t("card.unknownUser");
  return formatFieldValue(value, fieldType, lang);
}

function FieldTable({ title, fields }: { title: string; fields: Card["fields"] }) {
  const { t, lang } = useI18n();
  return (
    <section>
      <h3>{title}</h3>
      <dl className="field-list">
        {fields.map((f) => (
          <div
            className="field-row"
            key={f.name}
            data-testid={`field-${f.name}`}
            data-field-type={typeof f.fieldType === "string" ? f.fieldType : "other"}
          >
            <dt title={f.name}>{f.label}</dt>
            <dd>
              {f.values.length === 0 ? (
                t("card.noValue")
              ) : (
                <FieldValue
                  text={f.values
                    .map((v) => cardValue(v, typeof f.fieldType === "string" ? f.fieldType : "other", lang, t))
                    .join(", ")}
                />
              )}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
