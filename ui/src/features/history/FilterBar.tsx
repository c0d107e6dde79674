import { useState } from "react";
import { useI18n } from "../../lib/i18n";
import type { EntityType } from "../../lib/ipc";
import type { HistoryEventCode } from "../../lib/ipc/bindings/HistoryEventCode";
import type { HistoryFacets } from "../../lib/ipc/bindings/HistoryFacets";
import type { HistorySource } from "../../lib/ipc/bindings/HistorySource";
import { ENTITY_ONE_KEY, ENTITY_TYPES } from "../records/entities";
import { EVENT_CODES, eventLabel, SOURCES, sourceLabel } from "./describe";
import { activePresets, applyPreset, NO_FILTER, type HistoryFilterState, type PresetName, type SavedFilter } from "./filter";

interface Props {
  value: HistoryFilterState;
  onChange: (value: HistoryFilterState) => void;
  facets: HistoryFacets | null;
  saved: SavedFilter[];
  onSave: (name: string) => void;
  onDeleteSaved: (name: string) => void;
}

const PRESETS: PresetName[] = ["today", "yesterday", "byMe"];

/** Filters of the History page: presets, saved filters, and one control per filter. */
export function FilterBar({ value, onChange, facets, saved, onSave, onDeleteSaved }: Props) {
  const { t } = useI18n();
  const [naming, setNaming] = useState<string | null>(null);
  const [chosen, setChosen] = useState("");
  const me = facets?.me ?? null;
  const active = activePresets(value, new Date(), me);
  const set = (patch: Partial<HistoryFilterState>) => onChange({ ...value, ...patch });
  const orNull = (s: string) => (s === "" ? null : s);

  return (
    <div className="history-filters" data-testid="history-filters">
      <div className="history-presets">
        {PRESETS.map((p) => (
          <button
            key={p}
            type="button"
            className={active.includes(p) ? "chip active" : "chip"}
            aria-pressed={active.includes(p)}
            data-testid={`preset-${p}`}
            disabled={p === "byMe" && me === null}
            onClick={() => onChange(applyPreset(value, p, new Date(), me))}
          >
            {t(`history.preset.${p}`)}
          </button>
        ))}
        <select
          aria-label={t("history.saved")}
          value={chosen}
          onChange={(e) => {
            setChosen(e.target.value);
            const f = saved.find((s) => s.name === e.target.value);
            if (f) onChange(f.filter);
          }}
        >
          <option value="">{t("history.saved")}</option>
          {saved.map((s) => (
            <option key={s.name} value={s.name}>
              {s.name}
            </option>
          ))}
        </select>
        {chosen !== "" && (
          <button
            type="button"
            className="icon-button"
            title={t("history.saved.delete")}
            aria-label={t("history.saved.delete")}
            onClick={() => {
              onDeleteSaved(chosen);
              setChosen("");
            }}
          >
            ✕
          </button>
        )}
        {naming === null ? (
          <button type="button" className="link-button" onClick={() => setNaming("")}>
            {t("history.saved.save")}
          </button>
        ) : (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (naming.trim() !== "") onSave(naming.trim());
              setNaming(null);
            }}
          >
            <input autoFocus value={naming} placeholder={t("history.saved.name")} aria-label={t("history.saved.name")} onChange={(e) => setNaming(e.target.value)} />
            <button type="submit" className="secondary small">
              {t("history.saved.save")}
            </button>
          </form>
        )}
        <button type="button" className="link-button muted" onClick={() => onChange(NO_FILTER)}>
          {t("history.filter.reset")}
        </button>
      </div>
      <div className="history-controls">
        <input
          type="search"
          className="history-text"
          data-testid="history-text"
          value={value.text}
          placeholder={t("history.filter.text")}
          aria-label={t("history.filter.text")}
          onChange={(e) => set({ text: e.target.value })}
        />
        <label className="filter">
          <span>{t("history.filter.entityType")}</span>
          <select value={value.entityType ?? ""} onChange={(e) => set({ entityType: orNull(e.target.value) as EntityType | null })}>
            <option value="">{t("history.filter.any")}</option>
            {ENTITY_TYPES.map((type) => (
              <option key={type} value={type}>
                {t(ENTITY_ONE_KEY[type])}
              </option>
            ))}
          </select>
        </label>
        {value.entityType && (
          <label className="filter">
            <span>{t("history.filter.record")}</span>
            <input
              type="number"
              min={1}
              className="narrow"
              value={value.recordId ?? ""}
              onChange={(e) => set({ recordId: e.target.value === "" ? null : Number(e.target.value) })}
            />
          </label>
        )}
        <label className="filter">
          <span>{t("history.filter.from")}</span>
          <input type="date" value={value.fromDay ?? ""} onChange={(e) => set({ fromDay: orNull(e.target.value) })} />
        </label>
        <label className="filter">
          <span>{t("history.filter.to")}</span>
          <input type="date" value={value.toDay ?? ""} onChange={(e) => set({ toDay: orNull(e.target.value) })} />
        </label>
        <label className="filter">
          <span>{t("history.filter.author")}</span>
          <select value={value.authorId ?? ""} onChange={(e) => set({ authorId: e.target.value === "" ? null : Number(e.target.value) })}>
            <option value="">{t("history.filter.any")}</option>
            {facets?.authors.map((a) => (
              <option key={a.id} value={a.id}>
                {a.kind === "robot" ? `${a.name} (${t("history.robot")})` : a.name}
              </option>
            ))}
          </select>
        </label>
        <label className="filter">
          <span>{t("history.filter.event")}</span>
          <select value={value.event ?? ""} onChange={(e) => set({ event: orNull(e.target.value) as HistoryEventCode | null })}>
            <option value="">{t("history.filter.any")}</option>
            {EVENT_CODES.map((c) => (
              <option key={c} value={c}>
                {eventLabel(c, t)}
              </option>
            ))}
          </select>
        </label>
        <label className="filter">
          <span>{t("history.filter.field")}</span>
          <select value={value.field ?? ""} onChange={(e) => set({ field: orNull(e.target.value) })}>
            <option value="">{t("history.filter.any")}</option>
            {facets?.fields.map((f) => (
              <option key={f.field} value={f.field}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <label className="filter">
          <span>{t("history.filter.source")}</span>
          <select value={value.source ?? ""} onChange={(e) => set({ source: orNull(e.target.value) as HistorySource | null })}>
            <option value="">{t("history.filter.any")}</option>
            {SOURCES.map((s) => (
              <option key={s} value={s}>
                {sourceLabel(s, t)}
              </option>
            ))}
          </select>
        </label>
      </div>
    </div>
  );
}
