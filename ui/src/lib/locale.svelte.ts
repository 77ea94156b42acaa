// The language the window speaks now; components read `t` and re-render when it changes.
import type { Language } from "./bindings/Language";
import { DEFAULT_LANGUAGE, isMessageKey, localeOf, translate, type MessageKey, type Params } from "./i18n";

export const locale = $state<{ lang: Language }>({ lang: DEFAULT_LANGUAGE });

export function t(key: MessageKey, params?: Params): string {
  return translate(locale.lang, key, params);
}

/** A key built at run time (`status.en_route`); shows the key itself if it is unknown. */
export function tDynamic(key: string, params?: Params): string {
  return isMessageKey(key) ? translate(locale.lang, key, params) : key;
}

/** A date and time in the engineer's local time zone and the window's language. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return translate(locale.lang, "detail.unknown");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(localeOf(locale.lang), {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return translate(locale.lang, "detail.unknown");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(localeOf(locale.lang));
}

/** An amount in fen as the window's language writes money (¥1,234.50). */
export function formatMoney(fen: number): string {
  return new Intl.NumberFormat(localeOf(locale.lang), { style: "currency", currency: "CNY" }).format(fen / 100);
}
