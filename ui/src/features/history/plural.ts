import type { Language, MessageKey, Translate } from "../../lib/i18n";
import { formatCount, locale } from "../../lib/format";

/** The plural forms the dictionaries spell out (CLDR categories Russian and English use). */
const FORM_KEY: Record<Intl.LDMLPluralRule, MessageKey> = {
  zero: "history.count.many",
  one: "history.count.one",
  two: "history.count.few",
  few: "history.count.few",
  many: "history.count.many",
  other: "history.count.other",
};

/** "1 запись", "3 записи", "25 записей" — the language's own plural rules (Intl.PluralRules). */
export function formatEntries(n: number, lang: Language, t: Translate): string {
  const category = new Intl.PluralRules(locale(lang)).select(n);
  return `${formatCount(n, lang)} ${t(FORM_KEY[category])}`;
}
