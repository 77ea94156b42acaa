import { describe, expect, it } from "vitest";
import { countdown, durationParts } from "./sla";
import { translate } from "./i18n";

const due = "2026-11-23T08:00:00Z";
const at = (iso: string) => Date.parse(iso);

describe("SLA countdown", () => {
  it("counts down before the deadline and is on time exactly at it", () => {
    const c = countdown(due, at("2026-11-23T05:30:00Z"));
    expect(c.overdue).toBe(false);
    expect(translate("zh-CN", c.key, c.params)).toBe("2小时30分");
    expect(countdown(due, at(due)).overdue).toBe(false);
  });

  it("is overdue one second after, counting up", () => {
    const c = countdown(due, at("2026-11-23T08:00:01Z"));
    expect(c.overdue).toBe(true);
    expect(translate("en", c.key, c.params)).toBe("0 min 1 s");
    const days = countdown(due, at("2026-11-25T09:00:00Z"));
    expect(translate("en", days.key, days.params)).toBe("2 d 1 h");
  });

  it("warns in the last hour", () => {
    expect(countdown(due, at("2026-11-23T07:10:00Z")).soon).toBe(true);
    expect(countdown(due, at("2026-11-23T06:59:59Z")).soon).toBe(false);
  });

  it("uses the two largest units", () => {
    expect(durationParts(59_000)).toEqual({ key: "duration.ms", params: { m: 0, s: 59 } });
    expect(durationParts(3_600_000)).toEqual({ key: "duration.hm", params: { h: 1, m: 0 } });
  });
});
