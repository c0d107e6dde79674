import { describe, expect, it } from "vitest";
import { calendarDay, formatCount, formatDateTime, formatFieldValue, formatMoney, formatSince, portalHost } from "./format";
import { translate } from "./i18n";

// Intl uses narrow/normal no-break spaces as group separators; compare with plain spaces.
const spaces = (s: string) => s.replace(/[\u00a0\u202f]/g, " ");

describe("formatCount", () => {
  it("groups digits the way each language writes them", () => {
    expect(spaces(formatCount(1234567, "ru"))).toBe("1 234 567");
    expect(formatCount(1234567, "en")).toBe("1,234,567");
    expect(formatCount(0, "ru")).toBe("0");
  });
});

describe("formatMoney", () => {
  it("shows ISO currencies with their symbol or code", () => {
    expect(spaces(formatMoney(150000, "RUB", "ru"))).toBe("150 000 ₽");
    expect(formatMoney(99.5, "USD", "en")).toBe("US$99.50");
  });

  it("keeps an unknown currency code after the number instead of failing", () => {
    expect(formatMoney(10, "bitcoin", "en")).toBe("10 BITCOIN");
    expect(formatMoney(10, null, "en")).toBe("10");
  });

  it("formats decimal text digit by digit, never through a float", () => {
    expect(spaces(formatMoney("1000000.10", "RUB", "ru"))).toBe("1 000 000,10 ₽");
    expect(formatMoney("1000000.10", "USD", "en")).toBe("US$1,000,000.10");
    expect(spaces(formatMoney("90071992547409931.07", "RUB", "ru"))).toBe("90 071 992 547 409 931,07 ₽");
    expect(spaces(formatMoney("-5.50", "EUR", "ru"))).toBe("-5,50 €");
    expect(spaces(formatMoney("150000.00", "RUB", "ru"))).toBe("150 000 ₽");
  });

  it("shows nothing for a missing amount", () => {
    expect(formatMoney(null, "RUB", "ru")).toBe("");
    expect(formatMoney(Number.NaN, "RUB", "ru")).toBe("");
  });
});

describe("formatSince", () => {
  const now = new Date("2026-11-26T12:00:00Z");
  const t = (k: Parameters<typeof translate>[1], p?: Record<string, string | number>) => translate("en", k, p);

  it("says how long ago within a day", () => {
    expect(formatSince("2026-11-26T11:59:40Z", now, "en", t)).toBe("just now");
    expect(formatSince("2026-11-26T11:55:00Z", now, "en", t)).toBe("5 min ago");
    expect(formatSince("2026-11-26T09:00:00Z", now, "en", t)).toBe("3 h ago");
  });

  it("falls back to the date for anything older, and to nothing for no date", () => {
    expect(formatSince("2026-11-20T09:00:00Z", now, "en", t)).toBe(formatDateTime("2026-11-20T09:00:00Z", "en"));
    expect(formatSince(null, now, "en", t)).toBe("");
    expect(formatSince("not a date", now, "en", t)).toBe("");
  });
});

describe("calendarDay", () => {
  it("reads a portal's date as the day of the nearest UTC midnight, in every zone and season", () => {
    expect(calendarDay("2026-03-13")).toBe("2026-03-13");
    expect(calendarDay("13.03.2026")).toBe("2026-03-13");
    expect(calendarDay("2026-03-12T19:00:00-05:00")).toBe("2026-03-13");
    expect(calendarDay("2026-03-13T00:00:00+00:00")).toBe("2026-03-13");
    expect(calendarDay("2026-03-13T03:00:00+03:00")).toBe("2026-03-13");
    expect(calendarDay("2026-03-13T12:00:00+12:00")).toBe("2026-03-13");
    // Summer time between the date and the time it was read: an hour either side.
    expect(calendarDay("2026-07-09T19:00:00-04:00")).toBe("2026-07-10");
    expect(calendarDay("2026-07-10T01:00:00+01:00")).toBe("2026-07-10");
    expect(calendarDay("soon")).toBeNull();
  });
});

describe("portalHost", () => {
  it("shows only the host of a webhook URL, never the secret in its path", () => {
    expect(portalHost("https://acme.bitrix24.ru/rest/1/s3cr3t/")).toBe("acme.bitrix24.ru");
    expect(portalHost("  http://127.0.0.1:4567/rest/1/x/ ")).toBe("127.0.0.1:4567");
    expect(portalHost("acme.bitrix24.ru")).toBeNull();
  });
});

describe("formatFieldValue", () => {
  it("shows dates as the portal's calendar day, whatever the user's time zone", () => {
    expect(formatFieldValue("2026-08-31T03:00:00+03:00", "date", "ru")).toBe("31.08.2026");
    expect(formatFieldValue("2026-08-31T00:00:00+03:00", "date", "en")).toBe("31/08/2026");
    // West of UTC a portal sends the evening before (00:00 UTC shown in its zone).
    expect(formatFieldValue("2026-08-30T19:00:00-05:00", "date", "ru")).toBe("31.08.2026");
    expect(formatFieldValue("2026-08-31", "date", "ru")).toBe("31.08.2026");
  });

  it("groups digits of numbers and leaves text alone", () => {
    expect(spaces(formatFieldValue("1677000", "double", "ru"))).toBe("1 677 000");
    expect(formatFieldValue("60", "integer", "en")).toBe("60");
    expect(formatFieldValue("abc", "double", "en")).toBe("abc");
    expect(formatFieldValue("<b>x</b>", "string", "en")).toBe("<b>x</b>");
  });

  it("shows a portal date-time in a field of unknown type as a date, never as raw ISO text", () => {
    const shown = formatFieldValue("2026-08-31T12:30:00+00:00", "other", "ru");
    expect(shown).not.toContain("T12");
    expect(shown).toMatch(/^\d{2}\.\d{2}\.2026/);
    expect(formatFieldValue("2026-08-31 is a date in text", "other", "en")).toBe("2026-08-31 is a date in text");
  });

  it("shows a money field as an amount in its currency", () => {
    expect(spaces(formatFieldValue("483000 RUB", "money", "ru"))).toBe("483 000 ₽");
    expect(formatFieldValue("not money", "money", "en")).toBe("not money");
  });

  it("keeps a date-time it cannot read as it came", () => {
    expect(formatFieldValue("soon", "datetime", "en")).toBe("soon");
  });
});
