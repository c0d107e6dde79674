import { useState } from "react";
import { useI18n, type MessageKey } from "../../lib/i18n";
import {
  clampWidth,
  DEFAULT_COLUMNS,
  moveColumn,
  toggleColumn,
  widthOf,
  type ColumnSettings,
} from "./columns";

interface Props {
  value: ColumnSettings;
  onChange: (value: ColumnSettings) => void;
}

/** Which columns show, in what order, how wide. The page keeps the choice per portal user. */
export function ColumnChooser({ value, onChange }: Props) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  return (
    <div className="column-chooser">
      <button type="button" className="secondary small" aria-expanded={open} data-testid="columns-button" onClick={() => setOpen((o) => !o)}>
        {t("history.columns")}
      </button>
      {open && (
        <div className="popover" role="dialog" aria-label={t("history.columns")} data-testid="columns-panel">
          <ul>
            {value.order.map((c, i) => (
              <li key={c}>
                <label>
                  <input type="checkbox" checked={!value.hidden.includes(c)} onChange={() => onChange(toggleColumn(value, c))} />
                  {t(`history.col.${c}` as MessageKey)}
                </label>
                <input
                  type="number"
                  className="narrow"
                  aria-label={`${t(`history.col.${c}` as MessageKey)}: ${t("history.columns.width")}`}
                  title={t("history.columns.width")}
                  value={widthOf(value, c)}
                  step={10}
                  onChange={(e) => {
                    const w = Number(e.target.value);
                    if (Number.isFinite(w) && w > 0) onChange({ ...value, widths: { ...value.widths, [c]: clampWidth(w) } });
                  }}
                />
                <button type="button" className="icon-button" disabled={i === 0} title={t("history.columns.up")} aria-label={t("history.columns.up")} onClick={() => onChange(moveColumn(value, c, -1))}>
                  ↑
                </button>
                <button
                  type="button"
                  className="icon-button"
                  disabled={i === value.order.length - 1}
                  title={t("history.columns.down")}
                  aria-label={t("history.columns.down")}
                  onClick={() => onChange(moveColumn(value, c, 1))}
                >
                  ↓
                </button>
              </li>
            ))}
          </ul>
          <button type="button" className="link-button" onClick={() => onChange(DEFAULT_COLUMNS)}>
            {t("history.columns.reset")}
          </button>
        </div>
      )}
    </div>
  );
}
