import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { en } from "./en";
import { ru, type MessageKey } from "./ru";

export type { MessageKey } from "./ru";
export type Language = "ru" | "en";

export const LANGUAGES: readonly Language[] = ["ru", "en"];
export const DEFAULT_LANGUAGE: Language = "ru";
const STORAGE_KEY = "kartoteka.language";

export const dictionaries: Record<Language, Record<MessageKey, string>> = { ru, en };

export type Params = Record<string, string | number>;

/** Looks a key up and fills `{name}` placeholders. Parameters are inserted as plain text. */
export function translate(lang: Language, key: MessageKey, params?: Params): string {
  const template = dictionaries[lang][key] ?? dictionaries[DEFAULT_LANGUAGE][key] ?? key;
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export function isLanguage(value: unknown): value is Language {
  return value === "ru" || value === "en";
}

/** The language saved by the user, or Russian. */
export function loadLanguage(storage: Pick<Storage, "getItem"> | undefined): Language {
  try {
    const saved = storage?.getItem(STORAGE_KEY);
    return isLanguage(saved) ? saved : DEFAULT_LANGUAGE;
  } catch {
    return DEFAULT_LANGUAGE;
  }
}

export function saveLanguage(storage: Pick<Storage, "setItem"> | undefined, lang: Language): void {
  try {
    storage?.setItem(STORAGE_KEY, lang);
  } catch {
    // Storage may be unavailable; the choice then lasts for this session only.
  }
}

export type Translate = (key: MessageKey, params?: Params) => string;

interface I18nValue {
  lang: Language;
  setLang: (lang: Language) => void;
  t: Translate;
}

const I18nContext = createContext<I18nValue>({
  lang: DEFAULT_LANGUAGE,
  setLang: () => {},
  t: (key, params) => translate(DEFAULT_LANGUAGE, key, params),
});

function browserStorage(): Storage | undefined {
  return typeof window === "undefined" ? undefined : window.localStorage;
}

export function I18nProvider({ children, initial }: { children: ReactNode; initial?: Language }) {
  const [lang, setLangState] = useState<Language>(() => initial ?? loadLanguage(browserStorage()));
  const setLang = useCallback((next: Language) => {
    saveLanguage(browserStorage(), next);
    setLangState(next);
  }, []);
  // `<html lang>` follows the language from the start (screen readers, hyphenation, fonts).
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const value = useMemo<I18nValue>(
    () => ({ lang, setLang, t: (key, params) => translate(lang, key, params) }),
    [lang, setLang],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18nValue {
  return useContext(I18nContext);
}
