// An error in the window's language: the code's own words, with the detail when useful.
import type { UiError } from "./api";
import { isMessageKey, translate, type MessageKey } from "./i18n";
import type { Language } from "./bindings/Language";

export function describeError(lang: Language, e: UiError): string {
  const key = `error.${e.code}`;
  const k: MessageKey = isMessageKey(key) ? key : "error.unknown";
  return translate(lang, k, { message: e.message });
}
