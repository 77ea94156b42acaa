import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChecklistAnswer } from "../lib/bindings/ChecklistAnswer";
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
    service_record_number: null,
    service_record_waiting: null,
    outside_main_city: false,
    arrived_at: null,
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
      service_requests: [],
      history: [],
      pending_ops: 0,
      outcomes: [],
    },
    next_statuses: next,
    photos: [],
    problems: [],
    milestones: [],
    trainings: [],
    requests: [],
    checklist: [],
    checklist_blockers: [],
    quote: null,
    can_quote: false,
    repair_start_blockers: [],
    settlement: null,
    satisfaction: null,
    signings: [],
    completion_blockers: [],
    can_answer_checklist: true,
    can_diagnose: true,
    parts: [],
    log: [],
    time_entries: [],
    expenses: [],
    can_use_parts: true,
    charge_cause_applies: true,
    arrival: {
      calls: [
        { callee: "customer_manager", call: null },
        { callee: "customer_contact", call: null },
        { callee: "site_interface", call: null },
      ],
      briefing: null,
      next_call: "customer_manager",
      next_check: "check_in",
      checks: [],
    },
  } as OrderScreen;
}

const onPhoto = vi.fn(async (_: string) => new ArrayBuffer(0));
const onAnswer = vi.fn(async (_: ChecklistAnswer) => {});
const onCall = vi.fn(async () => {});
const onCheck = vi.fn(async () => {});
const onDiagnosis = vi.fn(async () => {});
const reports = { list: vi.fn(async () => ({ reports: [], fetched_at: null, offline: false })), pdf: vi.fn(async () => new ArrayBuffer(0)) };
const requests = { equipment: vi.fn(async () => []), register: vi.fn(async () => {}) };
const parts = { search: vi.fn(async () => []), add: vi.fn(async () => {}), cancel: vi.fn(async () => {}), backAtHq: vi.fn(async () => {}) };
const closeout = {
  search: vi.fn(async () => []),
  price: vi.fn(async () => ({ items: [], line_totals: [], pricing: { schedule_version: 1, materials: 0, labour: 0, travel: 0, other: 0, warranty_parts_value: 0, subtotal: 0, tax: 0, cost: 0, management: 0, total: 0 } })),
  present: vi.fn(async () => {}),
  approve: vi.fn(async () => {}),
  decline: vi.fn(async () => {}),
  settle: vi.fn(async () => {}),
  result: vi.fn(async () => {}),
  satisfaction: vi.fn(async () => {}),
  sign: vi.fn(async () => {}),
  remote: vi.fn(async () => {}),
};
const handlers = { closeout, onAnswer, onCall, onCheck, onDiagnosis, parts, onLog: vi.fn(async () => {}), onTime: vi.fn(async () => {}), onExpense: vi.fn(async () => {}), onOpen: () => {}, onPhoto, onImportPhoto: vi.fn(async () => {}), onThumbnail: vi.fn(async () => new ArrayBuffer(0)), onAcknowledge: vi.fn(async () => {}), onCrossCheck: vi.fn(async () => {}), onMilestone: vi.fn(async () => {}), onTraining: vi.fn(async () => {}), requests, reports };

describe("one work order", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("offers only the steps the lifecycle allows, and takes one", async () => {
    const onTransition = vi.fn(async (_: TransitionInput) => {});
    render(OrderDetail, { props: { screen: orderScreen("assigned", ["accepted"]), onTransition, ...handlers } });
    expect(screen.queryByTestId("action-en_route")).toBeNull();
    await fireEvent.click(screen.getByTestId("action-accepted"));
    expect(onTransition).toHaveBeenCalledWith({ id: ID, to: "accepted", scheduled_at: null, reason: null });
    expect((await screen.findByTestId("action-saved")).textContent).toBe("已保存在本机");
  });

  it("postpones only with a new date, sent in UTC with the reason", async () => {
    const onTransition = vi.fn(async (_: TransitionInput) => {});
    render(OrderDetail, {
      props: { screen: orderScreen("on_site", ["diagnosing", "postponed"]), onTransition, ...handlers },
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
    render(OrderDetail, { props: { screen: orderScreen("assigned", ["accepted"]), onTransition, ...handlers } });
    await fireEvent.click(screen.getByTestId("action-accepted"));
    expect((await screen.findByTestId("detail-error")).textContent).toBe("当前状态下不能执行此操作。");
    expect(screen.queryByTestId("action-saved")).toBeNull();
  });

  it("lists on the photos tab the photos that stand (the app leaves out what corrections void)", async () => {
    URL.createObjectURL = vi.fn(() => "blob:thumb");
    URL.revokeObjectURL = vi.fn();
    const photo = (id: string, sha: string, caption: string, voids: string | null) => ({
      id, work_order_id: ID, sha256: sha.repeat(64), kind: null, mime: "image/jpeg", size: 2_400_000, caption, voids,
      width: null, height: null, original_sha256: null,
    });
    const s = orderScreen("on_site", []);
    s.detail.attachments = [
      photo("a1", "a", "铭牌", null),
      photo("a2", "b", "拍糊了", null),
      photo("a3", "c", "控制柜内部", "a2"),
    ];
    s.photos = [s.detail.attachments[0], s.detail.attachments[2]];
    render(OrderDetail, { props: { screen: s, onTransition: async () => {}, ...handlers } });
    await fireEvent.click(screen.getByRole("tab", { name: /照片/ }));
    const list = screen.getByTestId("detail-photos");
    expect(list.textContent).toContain("铭牌");
    expect(list.textContent).toContain("控制柜内部");
    expect(list.textContent).not.toContain("拍糊了");
  });

  it("keeps the postpone form open when a background sync refreshes the same order", async () => {
    const onTransition = vi.fn(async (_: TransitionInput) => {});
    const view = render(OrderDetail, {
      props: { screen: orderScreen("on_site", ["diagnosing", "postponed"]), onTransition, ...handlers },
    });
    await fireEvent.click(screen.getByTestId("action-postponed"));
    await fireEvent.input(screen.getByTestId("postpone-reason"), { target: { value: "现场未具备施工条件" } });
    // The app reloads the open order after every sync: a new object, the same order.
    await view.rerender({ screen: orderScreen("on_site", ["diagnosing", "postponed"]), onTransition, ...handlers });
    expect(screen.getByTestId("postpone-form")).toBeTruthy();
    expect((screen.getByTestId("postpone-reason") as HTMLInputElement).value).toBe("现场未具备施工条件");
  });

  it("opens on the section of the next step, moves there after a step, and is driven by the arrow keys", async () => {
    const onTransition = vi.fn(async (_: TransitionInput) => {});
    render(OrderDetail, { props: { screen: orderScreen("en_route", ["on_site"]), onTransition, ...handlers } });
    expect(screen.getByRole("tab", { selected: true }).textContent).toContain("概况");
    await fireEvent.click(screen.getByTestId("action-on_site"));
    expect(screen.getByRole("tab", { selected: true }).textContent).toContain("到场");
    expect(screen.getByTestId("arrival")).toBeTruthy();
    await fireEvent.keyDown(screen.getByRole("tab", { selected: true }), { key: "ArrowRight" });
    const checklist = screen.getByRole("tab", { selected: true });
    expect(checklist.textContent).toContain("点检");
    expect(document.activeElement).toBe(checklist);
    await fireEvent.keyDown(checklist, { key: "End" });
    expect(screen.getByRole("tab", { selected: true }).textContent).toContain("完工签字");
  });

  it("names the checklist items still open, and counts them on the tab", async () => {
    const s = orderScreen("diagnosing", []);
    s.checklist_blockers = [
      { blocker: "required_item_open", item_id: "i1", label: "绝缘电阻" },
      { blocker: "failed_item_without_note", item_id: "i2", label: "接地" },
    ];
    render(OrderDetail, { props: { screen: s, onTransition: async () => {}, ...handlers } });
    expect(screen.getByRole("tab", { selected: true }).textContent?.replace(/\s+/g, "")).toBe("点检2");
    expect(screen.getByTestId("checklist-lacks").textContent).toBe("必填项未完成：绝缘电阻");
    expect(screen.getByText("不合格项需写明说明：接地")).toBeTruthy();
  });

  it("at 待签字 names what stands in the way of completion, jumps to it, and shows a signature voided by a change in red", async () => {
    const s = orderScreen("awaiting_signature", ["completed"]);
    s.completion_blockers = [
      { blocker: "required_item_open", item_id: ID, label: "接地电阻测量" },
      { blocker: "signature_invalidated", signature_id: ID },
    ];
    const signature = {
      id: ID, work_order_id: ID, document: "repair_record" as const, document_id: null, document_hash: "a".repeat(64),
      signer_name: "王经理", signer_role: "customer" as const, signed_at: "2026-11-23T03:00:00Z", sha256: "b".repeat(64), strokes: [],
    };
    s.signings = [{ document: "repair_record", signing: { state: "changed", signature } }];
    render(OrderDetail, { props: { screen: s, onTransition: async () => {}, ...handlers } });
    expect((screen.getByTestId("action-completed") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId("complete-waits").textContent).toContain("还有 2 项未满足");
    expect(screen.getByRole("tab", { selected: true }).textContent).toContain("完工签字");
    const named = screen.getAllByTestId("completion-blocker").map((e) => e.textContent);
    expect(named).toEqual(["点检必填项未完成：接地电阻测量", "维修记录单签字后内容已更改，需客户重新签字"]);
    expect(screen.getByTestId("signature-void").textContent).toContain("签字后内容已更改");
    await fireEvent.click(screen.getByRole("button", { name: "点检 →" }));
    expect(screen.getByRole("tab", { selected: true }).textContent).toContain("点检");
  });

  it("resolves a level-4 order remotely only with what was done, and who confirmed it", async () => {
    render(OrderDetail, { props: { screen: orderScreen("accepted", ["en_route", "remote", "postponed"]), onTransition: async () => {}, ...handlers } });
    await fireEvent.click(screen.getByTestId("action-remote"));
    await fireEvent.submit(screen.getByTestId("remote-form"));
    expect(closeout.remote).not.toHaveBeenCalled();
    expect(screen.getByRole("alert").textContent).toBe("请写明远程做了什么、给了什么建议。");
    await fireEvent.input(screen.getByTestId("remote-result"), { target: { value: "指导客户复位变频器参数" } });
    await fireEvent.input(screen.getByTestId("remote-who"), { target: { value: "李工" } });
    await fireEvent.submit(screen.getByTestId("remote-form"));
    expect(closeout.remote).toHaveBeenCalledWith({ order_id: ID, result: "指导客户复位变频器参数", confirmed_by: "李工" });
  });

  it("tells why a completed order's field service record has no number yet", async () => {
    const s = orderScreen("completed", []);
    s.detail.order.service_record_waiting = { department: "SC", made_on: "2026-12-06", max: 99 };
    render(OrderDetail, { props: { screen: s, onTransition: async () => {}, ...handlers } });
    await fireEvent.click(screen.getByRole("tab", { name: "概况" }));
    expect(screen.getByTestId("detail-service-number").textContent).toContain("本月编号已用完（最大 99）");
  });
});
