import type { Language, Translate } from "./i18n";

const LOCALES: Record<Language, string> = { ru: "ru-RU", en: "en-GB" };

export function locale(lang: Language): string {
  return LOCALES[lang];
}

/** A whole number with the language's digit grouping: `12 345` (ru), `12,345` (en). */
export function formatCount(n: number, lang: Language): string {
  return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 0 }).format(n);
}

/**
 * An amount with its currency. Bitrix24 currencies are ISO codes (RUB, USD, EUR, …); an unknown
 * code is shown after the number instead of failing.
 */
export function formatMoney(
  amount: number | null | undefined,
  currency: string | null | undefined,
  lang: Language,
): string {
  if (amount === null || amount === undefined || !Number.isFinite(amount)) return "";
  const code = (currency ?? "").trim().toUpperCase();
  if (/^[A-Z]{3}$/.test(code)) {
    try {
      return new Intl.NumberFormat(locale(lang), {
        style: "currency",
        currency: code,
        // Whole amounts without kopecks/cents; otherwise always two digits (99.50).
        maximumFractionDigits: Number.isInteger(amount) ? 0 : 2,
        minimumFractionDigits: Number.isInteger(amount) ? 0 : 2,
      }).format(amount);
    } catch {
      // Fall through to the plain form below.
    }
  }
  const plain = new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 2 }).format(amount);
  return code ? `${plain} ${code}` : plain;
}

/** Date and time in the user's time zone: `26.11.2026, 14:05` (ru). */
export function formatDateTime(iso: string | null | undefined, lang: Language): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(locale(lang), {
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  }).format(d);
}

/** "just now", "5 min ago", "3 h ago", or the date and time for anything older than a day. */
export function formatSince(
  iso: string | null | undefined,
  now: Date,
  lang: Language,
  t: Translate,
): string {
  if (!iso) return "";
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return "";
  const minutes = Math.floor((now.getTime() - then.getTime()) / 60_000);
  if (minutes < 1) return t("time.justNow");
  if (minutes < 60) return t("time.minutesAgo", { n: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return t("time.hoursAgo", { n: hours });
  return formatDateTime(iso, lang);
}

/** The portal's host from a webhook URL, for display; never the path (it holds the secret). */
export function portalHost(url: string): string | null {
  try {
    const u = new URL(url.trim());
    return u.host || null;
  } catch {
    return null;
  }
}

/** A date without time: `31.08.2026` (ru). Bitrix24 sends dates as midnight in the portal's zone,
 * so the calendar day is read from the text, not converted to the user's zone. */
export function formatDate(iso: string, lang: Language): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (!m) return iso;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(locale(lang), { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" }).format(d);
}

/** One card value for display, by the field's type; anything unrecognised is shown as it came. */
export function formatFieldValue(value: string, fieldType: string, lang: Language): string {
  switch (fieldType) {
    case "date":
      return formatDate(value, lang);
    case "datetime":
      return formatDateTime(value, lang) || value;
    case "money": {
      // The card sends money as "amount CUR" (the portal's "amount|CUR").
      const m = /^(-?\d+(?:\.\d+)?)\s+([A-Za-z]{3})$/.exec(value.trim());
      return m ? formatMoney(Number(m[1]), m[2], lang) : value;
    }
    case "double":
    case "integer": {
      const n = Number(value);
      if (value.trim() === "" || !Number.isFinite(n)) return value;
      return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 2 }).format(n);
    }
    default:
      // A field the metadata does not type may still hold a portal date-time: never show raw ISO.
      if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:?\d{2}|Z)?$/.test(value)) {
        return formatDateTime(value, lang) || value;
      }
      return value;
  }
}
