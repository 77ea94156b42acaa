// The live SLA countdown of the list: how long until the current deadline, or how late.
// The deadline itself is computed by the domain crate (`due_at`); this only formats it.
import type { MessageKey, Params } from "./i18n";

export interface Countdown {
  overdue: boolean;
  /** Less than an hour left: shown in amber. */
  soon: boolean;
  key: MessageKey;
  params: Params;
}

/** Splits a duration into the two largest units the list shows. */
export function durationParts(ms: number): { key: MessageKey; params: Params } {
  const total = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return { key: "duration.dhm", params: { d, h } };
  if (h > 0) return { key: "duration.hm", params: { h, m } };
  return { key: "duration.ms", params: { m, s } };
}

/** The countdown to `dueAt` at `now` (ms since the epoch). Due exactly now is on time. */
export function countdown(dueAt: string, now: number): Countdown {
  const left = Date.parse(dueAt) - now;
  const parts = durationParts(left);
  return {
    overdue: left < 0,
    soon: left >= 0 && left < 3600_000,
    key: parts.key,
    params: parts.params,
  };
}
