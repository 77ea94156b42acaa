import { cleanup, fireEvent, render, screen, within } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Arrival as ArrivalState } from "../lib/bindings/Arrival";
import type { ArrivalCallInput } from "../lib/bindings/ArrivalCallInput";
import type { CheckInput } from "../lib/bindings/CheckInput";
import { locale } from "../lib/locale.svelte";
import Arrival from "./Arrival.svelte";

const ORDER = "0193b1c2-0000-7000-8000-000000000001";

function state(done: number, checkedIn: boolean): ArrivalState {
  const callees = ["customer_manager", "customer_contact", "site_interface"] as const;
  const calls = callees.map((callee, i) => ({
    callee,
    call: i < done ? { id: `c${i}`, work_order_id: ORDER, callee, at: "2026-11-23T01:0" + i + ":00Z", note: i === 0 ? "张经理" : null, voids: null } : null,
  }));
  return {
    calls,
    briefing: null,
    next_call: done < 3 ? callees[done] : null,
    next_check: checkedIn ? "check_out" : "check_in",
    checks: checkedIn
      ? [{ id: "k1", work_order_id: ORDER, kind: "check_in", at: "2026-11-23T01:00:00Z", location_text: "配电室", latitude: null, longitude: null, voids: null }]
      : [],
  };
}

function call(callee: string): HTMLElement {
  const el = screen.getAllByTestId("arrival-call").find((e) => e.dataset.callee === callee);
  if (!el) throw new Error(`no call ${callee}`);
  return el;
}

describe("arrival", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("ticks the next of the three calls with who answered, and checks in with the place", async () => {
    const onCall = vi.fn(async (_: ArrivalCallInput) => {});
    const onCheck = vi.fn(async (_: CheckInput) => {});
    render(Arrival, { props: { orderId: ORDER, arrival: state(1, false), onCall, onCheck } });
    expect(call("customer_manager").dataset.done).toBe("true");
    expect(call("customer_manager").textContent).toContain("张经理");
    const contact = call("customer_contact");
    await fireEvent.input(within(contact).getByRole("textbox", { name: "接听人（可选）" }), { target: { value: " 李工 " } });
    await fireEvent.click(within(contact).getByRole("button", { name: "已通知" }));
    expect(onCall).toHaveBeenCalledWith({ order_id: ORDER, callee: "customer_contact", note: "李工" });
    expect(await screen.findByRole("status")).toBeTruthy();

    await fireEvent.input(screen.getByTestId("arrival-place"), { target: { value: "2号车间" } });
    await fireEvent.click(screen.getByRole("button", { name: "签到" }));
    expect(onCheck).toHaveBeenCalledWith({ order_id: ORDER, kind: "check_in", location_text: "2号车间" });
  });

  it("offers the check-out once checked in, says when and where, and the briefing needs words", async () => {
    const onCall = vi.fn(async (_: ArrivalCallInput) => {});
    const onCheck = vi.fn(async (_: CheckInput) => {
      throw { code: "invalid", message: "you are checked in already" };
    });
    render(Arrival, { props: { orderId: ORDER, arrival: state(3, true), onCall, onCheck } });
    expect(screen.getByTestId("arrival-last-check").textContent).toContain("配电室");
    const briefingSave = screen.getByRole("button", { name: "保存交底" }) as HTMLButtonElement;
    expect(briefingSave.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("arrival-briefing-input"), { target: { value: "更换主板，断电作业" } });
    await fireEvent.click(briefingSave);
    expect(onCall).toHaveBeenCalledWith({ order_id: ORDER, callee: "technical_briefing", note: "更换主板，断电作业" });
    expect(screen.getByText("签退地点（可选）")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "签退" }));
    expect(onCheck).toHaveBeenCalledWith({ order_id: ORDER, kind: "check_out", location_text: null });
    expect(await screen.findByRole("alert")).toBeTruthy();
  });

  it("speaks English", () => {
    locale.lang = "en";
    render(Arrival, { props: { orderId: ORDER, arrival: state(0, false), onCall: vi.fn(), onCheck: vi.fn() } });
    expect(call("site_interface").textContent).toContain("Site interface");
    expect(screen.getByRole("button", { name: "Check in" })).toBeTruthy();
  });
});
