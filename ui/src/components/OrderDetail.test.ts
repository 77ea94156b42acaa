import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { OrderScreen } from "../lib/bindings/OrderScreen";
import type { Status } from "../lib/bindings/Status";
import type { TransitionInput } from "../lib/bindings/TransitionInput";
import { locale } from "../lib/locale.svelte";
import OrderDetail from "./OrderDetail.svelte";

const ID = "0193b1c2-0000-7000-8000-000000000001";

function orderScreen(status: Status, next: Status[]): OrderScreen {
  const order = {
    id: ID,
    number: "SC2611-07",
    department: "SC",
    customer_id: "0193b1c2-0000-7000-8000-0000000000c1",
    equipment_id: null,
    service_type: "repair",
    fault_level: 2,
    channel: "hotline",
    status,
    reported_at: "2026-11-22T08:00:00Z",
    fault_description: "变频器过流故障",
    expected_completion: null,
    requested_service_at: null,
    scheduled_at: "2026-11-23T02:00:00Z",
    warranty: "in_warranty",
    paid: false,
    charge_cause: null,
    complex: false,
    assignees: [],
    recorded_by: null,
    diagnosis: null,
    repair_result: null,
    repair_started_at: null,
    repair_ended_at: null,
    outcome: null,
    postpone_reason: null,
  };
  return {
    detail: {
      order,
      customer: null,
      equipment: null,
      deadlines: null,
      checklist: [],
      part_usages: [],
      quotes: [],
      signatures: [],
      attachments: [],
      log_entries: [],
      check_ins: [],
      arrival_calls: [],
      time_entries: [],
      expenses: [],
      milestones: [],
      satisfaction: [],
      follow_ups: [],
      trainings: [],
      settlements: [],
      warehouse_receipts: [],
      history: [],
      pending_ops: 0,
      outcomes: [],
    },
    next_statuses: next,
  } as OrderScreen;
}

describe("one work order", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("offers only the steps the lifecycle allows, and takes one", async () => {
    const onTransition = vi.fn(async (_: TransitionInput) => {});
    render(OrderDetail, { props: { screen: orderScreen("assigned", ["accepted"]), onTransition, onOpen: () => {} } });
    expect(screen.queryByTestId("action-en_route")).toBeNull();
    await fireEvent.click(screen.getByTestId("action-accepted"));
    expect(onTransition).toHaveBeenCalledWith({ id: ID, to: "accepted", scheduled_at: null, reason: null });
    expect((await screen.findByTestId("action-saved")).textContent).toBe("已保存在本机");
  });

  it("postpones only with a new date, sent in UTC with the reason", async () => {
    const onTransition = vi.fn(async (_: TransitionInput) => {});
    render(OrderDetail, {
      props: { screen: orderScreen("on_site", ["diagnosing", "postponed"]), onTransition, onOpen: () => {} },
    });
    await fireEvent.click(screen.getByTestId("action-postponed"));
    await fireEvent.submit(screen.getByTestId("postpone-form"));
    expect(onTransition).not.toHaveBeenCalled();
    expect(screen.getByRole("alert").textContent).toBe("请选择新的上门时间。");

    await fireEvent.input(screen.getByTestId("postpone-date"), { target: { value: "2026-11-25T09:30" } });
    await fireEvent.input(screen.getByTestId("postpone-reason"), { target: { value: "现场未具备施工条件" } });
    await fireEvent.submit(screen.getByTestId("postpone-form"));
    expect(onTransition).toHaveBeenCalledWith({
      id: ID,
      to: "postponed",
      scheduled_at: new Date("2026-11-25T09:30").toISOString(),
      reason: "现场未具备施工条件",
    });
  });

  it("shows a refusal in words and keeps the form", async () => {
    const onTransition = vi.fn(async () => {
      throw { code: "not_allowed", message: "a work order cannot go from completed to accepted" };
    });
    render(OrderDetail, { props: { screen: orderScreen("assigned", ["accepted"]), onTransition, onOpen: () => {} } });
    await fireEvent.click(screen.getByTestId("action-accepted"));
    expect((await screen.findByTestId("detail-error")).textContent).toBe("当前状态下不能执行此操作。");
    expect(screen.queryByTestId("action-saved")).toBeNull();
  });
});
