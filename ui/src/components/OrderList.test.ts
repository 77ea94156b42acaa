import { cleanup, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it } from "vitest";
import type { WorkOrderSummary } from "../lib/bindings/WorkOrderSummary";
import { locale } from "../lib/locale.svelte";
import OrderList from "./OrderList.svelte";

const NOW = Date.parse("2026-11-23T08:00:00Z");

function order(number: string, due_at: string | null, over: Partial<WorkOrderSummary> = {}): WorkOrderSummary {
  return {
    id: `0193b1c2-0000-7000-8000-00000000000${number.slice(-1)}`,
    number,
    status: "assigned",
    fault_level: 2,
    service_type: "repair",
    reported_at: "2026-11-22T08:00:00Z",
    due_at,
    due_kind: due_at ? "on_site" : null,
    customer_name: "瓯江电机厂",
    equipment_model: "YE3-315L",
    fault_description: "变频器过流故障",
    pending: false,
    revoked: false,
    ...over,
  };
}

function renderList(orders: WorkOrderSummary[]) {
  return render(OrderList, {
    props: { orders, selectedId: null, now: NOW, query: "", filter: "", onSelect: () => {} },
  });
}

describe("the order list", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("shows an overdue order in red and counts down the others", () => {
    locale.lang = "zh-CN";
    renderList([
      order("SC2611-01", "2026-11-23T07:00:00Z"),
      order("SC2611-02", "2026-11-23T10:30:00Z", { pending: true }),
    ]);
    const slas = screen.getAllByTestId("order-sla");
    expect(slas[0].textContent?.trim()).toBe("到场已超时 1小时0分");
    expect(slas[0].classList.contains("late")).toBe(true);
    expect(slas[1].textContent?.trim()).toBe("到场剩余 2小时30分");
    expect(slas[1].classList.contains("late")).toBe(false);
    expect(screen.getByText("待发送")).toBeTruthy();
  });

  it("speaks English when chosen", () => {
    locale.lang = "en";
    renderList([order("SC2611-03", "2026-11-23T07:00:00Z")]);
    expect(screen.getByTestId("order-sla").textContent?.trim()).toBe("On site overdue by 1 h 0 min");
    expect(screen.getByTestId("order-status").textContent).toBe("Assigned");
  });

  it("counts a postponed order down to the visit agreed with the customer", () => {
    locale.lang = "zh-CN";
    renderList([
      order("SC2611-04", "2026-11-25T10:00:00Z", { status: "postponed", due_kind: "agreed_visit" }),
    ]);
    expect(screen.getByTestId("order-sla").textContent?.trim()).toBe("约定到场剩余 2天2小时");
    cleanup();
    locale.lang = "en";
    renderList([
      order("SC2611-04", "2026-11-25T10:00:00Z", { status: "postponed", due_kind: "agreed_visit" }),
    ]);
    expect(screen.getByTestId("order-sla").textContent?.trim()).toBe("Agreed visit in 2 d 2 h");
  });

  it("says so when there is nothing", () => {
    renderList([]);
    expect(screen.getByTestId("orders-empty").textContent).toContain("没有工单");
  });
});
