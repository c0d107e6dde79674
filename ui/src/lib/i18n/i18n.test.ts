import { describe, expect, it } from "vitest";
import { dictionaries, loadLanguage, saveLanguage, translate } from ".";

describe("dictionaries", () => {
  it("every key exists in both Russian and English, with no empty text", () => {
    const ruKeys = Object.keys(dictionaries.ru).sort();
    const enKeys = Object.keys(dictionaries.en).sort();
    expect(enKeys).toEqual(ruKeys);
    for (const lang of ["ru", "en"] as const) {
      for (const [key, text] of Object.entries(dictionaries[lang])) {
        expect(text.trim(), `${lang}:${key} is empty`).not.toBe("");
      }
    }
  });

  it("both languages use the same placeholders for each key", () => {
    const placeholders = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const key of Object.keys(dictionaries.ru) as (keyof typeof dictionaries.ru)[]) {
      expect(placeholders(dictionaries.en[key]), key).toEqual(placeholders(dictionaries.ru[key]));
    }
  });
});

describe("translate", () => {
  it("fills placeholders and leaves unknown ones visible", () => {
    expect(translate("en", "list.found", { n: "1,234" })).toBe("Found: 1,234");
    expect(translate("ru", "list.found")).toBe("Найдено: {n}");
  });

  it("inserts parameters as plain text, so markup in a value stays text", () => {
    expect(translate("en", "header.lastSync", { when: "<img src=x onerror=alert(1)>" })).toBe(
      "Synced <img src=x onerror=alert(1)>",
    );
  });
});

describe("language choice", () => {
  it("defaults to Russian and remembers the user's choice", () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    };
    expect(loadLanguage(storage)).toBe("ru");
    saveLanguage(storage, "en");
    expect(loadLanguage(storage)).toBe("en");
  });

  it("ignores a stored value that is not a known language", () => {
    expect(loadLanguage({ getItem: () => "de" })).toBe("ru");
    expect(
      loadLanguage({
        getItem: () => {
          throw new Error("storage disabled");
        },
      }),
    ).toBe("ru");
  });
});
