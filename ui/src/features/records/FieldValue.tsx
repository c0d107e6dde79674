import { useState } from "react";
import { useI18n } from "../../lib/i18n";
import { renderBbcode } from "./bbcode";

/** Values longer than this are folded to their first part, with "show all". */
export const FOLD_AT = 600;

/** A card value: BBCode as formatting, a very long value folded until the user asks for it all. */
export function FieldValue({ text }: { text: string }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const long = text.length > FOLD_AT;
  const shown = long && !open ? `${text.slice(0, FOLD_AT).trimEnd()}…` : text;
  return (
    <>
      <span className="value-text">{renderBbcode(shown)}</span>
      {long && (
        <button type="button" className="link-button fold-toggle" aria-expanded={open} onClick={() => setOpen((v) => !v)}>
          {open ? t("card.showLess") : t("card.showAll", { n: text.length })}
        </button>
      )}
    </>
  );
}
