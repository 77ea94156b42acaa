import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { en, zhCN } from "./messages";
import { translate } from "./i18n";

const SRC = join(import.meta.dirname, "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "bindings" ? [] : sources(path);
    return /\.(svelte|ts)$/.test(name) && !name.endsWith(".test.ts") ? [path] : [];
  });
}

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("i18n", () => {
  it("has every key in both languages, with the same placeholders", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
    for (const key of Object.keys(zhCN) as (keyof typeof zhCN)[]) {
      expect(placeholders(en[key]), key).toEqual(placeholders(zhCN[key]));
      expect(en[key].trim(), key).not.toBe("");
    }
  });

  it("defines every key the code uses", () => {
    const used = new Set<string>();
    for (const file of sources(SRC)) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/\bt\(\s*"([\w.]+)"/g)) used.add(m[1]);
      // Keys picked at run time: t(cond ? "a" : "b").
      for (const m of text.matchAll(/\?\s*"((?:sla|sync|action|detail|error|list|signin)\.[\w.]+)"\s*:\s*"([\w.]+)"/g)) {
        used.add(m[1]);
        used.add(m[2]);
      }
    }
    expect(used.size).toBeGreaterThan(50);
    const missing = [...used].filter((k) => !(k in zhCN));
    expect(missing).toEqual([]);
  });

  it("has a label for every status, service type, SLA milestone and error code of the Rust side", () => {
    const bindings = join(SRC, "lib", "bindings");
    const union = (file: string) =>
      [...readFileSync(join(bindings, file), "utf8").matchAll(/"(\w+)"/g)].map((m) => m[1]);
    const wanted = [
      ...union("Status.ts").map((s) => `status.${s}`),
      ...union("ServiceType.ts").map((s) => `service.${s}`),
      ...union("SlaMilestone.ts").map((s) => `sla.${s}`),
      ...union("ErrorCode.ts").map((s) => `error.${s}`),
    ];
    expect(wanted.length).toBeGreaterThan(30);
    expect(wanted.filter((k) => !(k in zhCN))).toEqual([]);
  });

  it("speaks Chinese by default and fills placeholders", () => {
    expect(translate("zh-CN", "sync.pending", { count: 3 })).toBe("3 项待发送");
    expect(translate("en", "sync.pending", { count: 3 })).toBe("3 not sent");
  });
});
