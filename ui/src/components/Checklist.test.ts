import { cleanup, fireEvent, render, screen, within } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChecklistAnswer } from "../lib/bindings/ChecklistAnswer";
import type { ChecklistRow } from "../lib/bindings/ChecklistRow";
import { locale } from "../lib/locale.svelte";
import Checklist from "./Checklist.svelte";

const ORDER = "0193b1c2-0000-7000-8000-000000000001";

function row(key: string, label: string, kind: object, state: ChecklistRow["state"] = "open", extra: object = {}): ChecklistRow {
  return {
    item: {
      id: `item-${key}`, work_order_id: ORDER, template_id: null, template_version: null, position: 0, key, label,
      required: true, safety: key === "ppe", answer: null, note: null, answered_by: null, answered_at: null,
      cross_checked_by: null, cross_checked_at: null, ...kind, ...extra,
    },
    state,
    can_cross_check: false,
  } as ChecklistRow;
}

const ppe = row("ppe", "佩戴安全帽、穿防护服", { kind: "pass_fail" });
const insulation = row("insulation", "绝缘电阻测试", { kind: "measured", unit: "MΩ", min: 0.5, max: null });
const alarm = row("alarm", "报警记录", { kind: "text" });

function item(key: string): HTMLElement {
  const el = screen.getAllByTestId("checklist-item").find((e) => e.dataset.key === key);
  if (!el) throw new Error(`no item ${key}`);
  return el;
}

describe("the checklist", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("saves a pass, a measured value and a text, each with the item it answers", async () => {
    const onAnswer = vi.fn(async (_: ChecklistAnswer) => {});
    render(Checklist, { props: { orderId: ORDER, rows: [ppe, insulation, alarm], editable: true, onAnswer } });
    expect(screen.getByText("已检 0 / 3")).toBeTruthy();
    expect(within(item("insulation")).getByText("限值 ≥ 0.5 MΩ")).toBeTruthy();

    await fireEvent.click(within(item("ppe")).getByRole("button", { name: "合格" }));
    expect(onAnswer).toHaveBeenLastCalledWith({ order_id: ORDER, item_id: "item-ppe", answer: { type: "pass" }, note: null });
    expect(await within(item("ppe")).findByRole("status")).toBeTruthy();

    const value = within(item("insulation")).getByTestId("checklist-input");
    await fireEvent.input(value, { target: { value: "0,3" } });
    const note = within(item("insulation")).getByRole("textbox", { name: "备注" });
    await fireEvent.input(note, { target: { value: "受潮" } });
    await fireEvent.keyDown(value, { key: "Enter" });
    expect(onAnswer).toHaveBeenLastCalledWith({
      order_id: ORDER, item_id: "item-insulation", answer: { type: "value", value: 0.3 }, note: "受潮",
    });

    await fireEvent.input(within(item("alarm")).getByTestId("checklist-input"), { target: { value: "无报警" } });
    await fireEvent.click(within(item("alarm")).getByTestId("checklist-save"));
    expect(onAnswer).toHaveBeenLastCalledWith({ order_id: ORDER, item_id: "item-alarm", answer: { type: "text", value: "无报警" }, note: null });
  });

  it("refuses what is not a number before saving, and shows a refused save's reason", async () => {
    const onAnswer = vi.fn(async (_: ChecklistAnswer) => {
      throw { code: "not_allowed", message: "the order moved on" };
    });
    render(Checklist, { props: { orderId: ORDER, rows: [insulation, ppe], editable: true, onAnswer } });
    const value = within(item("insulation")).getByTestId("checklist-input");
    await fireEvent.input(value, { target: { value: "零点三" } });
    await fireEvent.click(within(item("insulation")).getByTestId("checklist-save"));
    expect(onAnswer).not.toHaveBeenCalled();
    expect(within(item("insulation")).getByRole("alert").textContent).toBe("请输入数字，例如 0.5");

    await fireEvent.click(within(item("ppe")).getByRole("button", { name: "不合格" }));
    expect(onAnswer).toHaveBeenCalledTimes(1);
    expect(await within(item("ppe")).findByRole("alert")).toBeTruthy();
    expect(within(item("ppe")).queryByRole("status")).toBeNull();
  });

  it("shows an out-of-limit value in red with the limits it breaks, in both languages", async () => {
    const failed = row("insulation", "绝缘电阻测试", { kind: "measured", unit: "MΩ", min: 0.5, max: null }, "failed", {
      answer: { type: "value", value: 0.3 }, note: "受潮",
    });
    const passed = { ...ppe, state: "ok", item: { ...ppe.item, answer: { type: "pass" } } } as ChecklistRow;
    const view = render(Checklist, { props: { orderId: ORDER, rows: [passed, failed], editable: true, onAnswer: vi.fn() } });
    expect(item("insulation").dataset.state).toBe("failed");
    expect(within(item("insulation")).getByTestId("checklist-failed").textContent).toBe("测量值 0.3 超出限值（≥ 0.5 MΩ）");
    expect(within(item("insulation")).getByTestId("checklist-state").textContent).toBe("不合格");
    expect(within(item("ppe")).getByRole("button", { name: "合格" }).getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByText("已检 2 / 2")).toBeTruthy();
    locale.lang = "en";
    await view.rerender({ orderId: ORDER, rows: [passed, failed], editable: true, onAnswer: vi.fn() });
    expect(within(item("insulation")).getByTestId("checklist-failed").textContent).toBe("Measured 0.3 is outside the limits (≥ 0.5 MΩ)");
  });

  it("answers a photo item with one of the order's photos, and says to import one when there is none", async () => {
    const photoItem = row("photo", "完工照片", { kind: "photo_required" });
    const onAnswer = vi.fn(async (_: ChecklistAnswer) => {});
    const view = render(Checklist, { props: { orderId: ORDER, rows: [photoItem], editable: true, onAnswer } });
    expect(item("photo").textContent).toContain("需拍照");
    view.unmount();
    const sha = "a".repeat(64);
    const photos = [{
      id: "p1", work_order_id: ORDER, sha256: sha, kind: "after" as const, mime: "image/jpeg", size: 1000, caption: "完工全景",
      voids: null, width: 800, height: 600, original_sha256: null,
    }];
    render(Checklist, { props: { orderId: ORDER, rows: [photoItem], editable: true, photos, onAnswer } });
    await fireEvent.change(within(item("photo")).getByTestId("checklist-photo"), { target: { value: sha } });
    expect(onAnswer).toHaveBeenCalledWith({ order_id: ORDER, item_id: "item-photo", answer: { type: "photo", value: sha }, note: null });
  });

  it("lets a second engineer confirm another's answer, and shows when it was cross-checked", async () => {
    const answered = { ...ppe, state: "ok" as const, can_cross_check: true, item: { ...ppe.item, answer: { type: "pass" as const } } };
    const checked = {
      ...insulation, state: "ok" as const,
      item: { ...insulation.item, answer: { type: "value" as const, value: 12 }, cross_checked_by: "li", cross_checked_at: "2026-12-06T02:00:00Z" },
    };
    const onCrossCheck = vi.fn(async () => {});
    render(Checklist, { props: { orderId: ORDER, rows: [answered, checked, alarm], editable: true, onAnswer: vi.fn(), onCrossCheck } });
    expect(within(item("alarm")).queryByTestId("checklist-crosscheck")).toBeNull();
    await fireEvent.click(within(item("ppe")).getByRole("button", { name: "交叉检查确认" }));
    expect(onCrossCheck).toHaveBeenCalledWith({ order_id: ORDER, item_id: "item-ppe" });
    expect(within(item("insulation")).getByTestId("checklist-crosschecked").textContent).toMatch(/^已交叉检查（2026/);
  });

  it("is read-only once the order is finished", () => {
    render(Checklist, { props: { orderId: ORDER, rows: [ppe, insulation], editable: false, onAnswer: vi.fn() } });
    for (const b of screen.getAllByRole("button")) expect((b as HTMLButtonElement).disabled).toBe(true);
    expect((within(item("insulation")).getByTestId("checklist-input") as HTMLInputElement).disabled).toBe(true);
  });
});
