import type { Language, Translate } from "./i18n";

const LOCALES: Record<Language, string> = { ru: "ru-RU", en: "en-GB" };

export function locale(lang: Language): string {
  return LOCALES[lang];
}

/** A whole number with the language's digit grouping: `12 345` (ru), `12,345` (en). */
export function formatCount(n: number, lang: Language): string {
  return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 0 }).format(n);
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/**
 * An amount with its currency. The amount is decimal text as the portal and the replica keep it
 * (`"1000000.10"`), formatted digit by digit — never through a float, so `1 000 000,10 ₽` never
 * turns into `1000000.0999`. Bitrix24 currencies are ISO codes (RUB, USD, EUR, …); an unknown
 * code is shown after the number instead of failing.
 */
export function formatMoney(
  amount: string | number | null | undefined,
  currency: string | null | undefined,
  lang: Language,
): string {
  if (amount === null || amount === undefined) return "";
  if (typeof amount === "number" && !Number.isFinite(amount)) return "";
  const text = String(amount).trim();
  const m = DECIMAL.exec(text);
  if (!m) return text;
  const negative = m[1] === "-";
  const whole = (m[2] ?? "0").replace(/^0+(?=\d)/, "");
  const fraction = (m[3] ?? "").replace(/0+$/, "");
  // Whole amounts without kopecks/cents; otherwise at least two digits (99.50).
  const cents = fraction === "" ? "" : fraction.padEnd(2, "0");
  const digits = { minimumFractionDigits: cents ? 2 : 0, maximumFractionDigits: cents ? 2 : 0 };
  const code = (currency ?? "").trim().toUpperCase();
  let format: Intl.NumberFormat | null = null;
  if (/^[A-Z]{3}$/.test(code)) {
    try {
      format = new Intl.NumberFormat(locale(lang), { style: "currency", currency: code, ...digits });
    } catch {
      format = null;
    }
  }
  const withSymbol = format !== null;
  format ??= new Intl.NumberFormat(locale(lang), digits);
  // A template number shows the language's sign, grouping, decimal mark and symbol placement;
  // our own digits go in its place.
  const parts = format.formatToParts(negative ? -1111.11 : 1111.11);
  const group = parts.find((p) => p.type === "group")?.value ?? "";
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group);
  let out = "";
  let integerDone = false;
  for (const part of parts) {
    if (part.type === "integer") {
      if (!integerDone) out += grouped;
      integerDone = true;
    } else if (part.type === "fraction") {
      out += cents;
    } else if (part.type !== "group") {
      out += part.value;
    }
  }
  return !withSymbol && code ? `${out} ${code}` : out;
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

/**
 * The calendar day of a date-only value, `YYYY-MM-DD`. Kartoteka keeps dates in that form; a
 * portal sends them as 00:00 UTC of the day shown in its own zone (`2026-03-12T19:00:00-05:00` is
 * the 13th in New York), an hour either side of it with summer time, so a value with a time is
 * the day of the nearest UTC midnight. `null` when the text is no date.
 */
export function calendarDay(value: string): string | null {
  const text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return text;
  const dotted = /^(\d{2})\.(\d{2})\.(\d{4})$/.exec(text);
  if (dotted) return `${dotted[3]}-${dotted[2]}-${dotted[1]}`;
  const t = new Date(text).getTime();
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(t)) return null;
  const day = 86_400_000;
  return new Date(Math.floor((t + day / 2) / day) * day).toISOString().slice(0, 10);
}

/** A date without time: `31.08.2026` (ru), the day {@link calendarDay} reads, in no time zone. */
export function formatDate(iso: string, lang: Language): string {
  const day = calendarDay(iso);
  if (!day) return iso;
  const date = new Date(`${day}T00:00:00Z`);
  return new Intl.DateTimeFormat(locale(lang), { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" }).format(date);
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
      return m ? formatMoney(m[1], m[2], lang) : value;
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
