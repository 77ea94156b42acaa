// Translation: every string of the window goes through `translate` (or `t` in
// locale.svelte.ts, which follows the chosen language).
import { en, zhCN, type MessageKey } from "./messages";
import type { Language } from "./bindings/Language";

export type { MessageKey };
export const LANGUAGES: Language[] = ["zh-CN", "en"];
export const DEFAULT_LANGUAGE: Language = "zh-CN";

const tables: Record<Language, Record<MessageKey, string>> = { "zh-CN": zhCN, en };

export type Params = Record<string, string | number>;

/** The message `key` in `lang`, with `{name}` placeholders filled from `params`. */
export function translate(lang: Language, key: MessageKey, params: Params = {}): string {
  const text = tables[lang][key] ?? zhCN[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Whether `key` names a message (for keys built at run time, such as statuses). */
export function isMessageKey(key: string): key is MessageKey {
  return key in zhCN;
}

/** The BCP 47 tag for dates and numbers in `lang`. */
export function localeOf(lang: Language): string {
  return lang === "en" ? "en-GB" : "zh-CN";
}
