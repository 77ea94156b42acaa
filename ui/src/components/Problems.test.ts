import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Problem } from "../lib/bindings/Problem";
import { locale } from "../lib/locale.svelte";
import Problems from "./Problems.svelte";

const conflict: Problem = {
  op_id: "0193b1c2-0000-7000-8000-0000000000a1", status: "conflict", entity: "work_order", kind: "transition", to: "en_route",
  reason: "the order was cancelled by the dispatcher", decided_at: "2026-12-06T02:00:00Z", seen: false,
};
const setAside: Problem = {
  op_id: "0193b1c2-0000-7000-8000-0000000000a2", status: "quarantined", entity: "log_entry", kind: "append", to: null,
  reason: null, decided_at: "2026-12-06T02:00:00Z", seen: true,
};

describe("the changes the server did not accept", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("says what happened and what to do, and marks them read", async () => {
    const onAcknowledge = vi.fn(async () => {});
    render(Problems, { props: { problems: [conflict, setAside], onAcknowledge } });
    const rows = screen.getAllByTestId("problem");
    expect(rows[0].textContent).toContain("与更新的更改冲突，未生效：改为“在途”");
    expect(rows[0].textContent).toContain("请看工单现在的状态和内容");
    expect(rows[0].textContent).toContain("服务器说明：the order was cancelled by the dispatcher");
    expect(rows[1].textContent).toContain("这项更改不在你的工单范围内，服务器已搁置：工作日志");
    await fireEvent.click(screen.getByRole("button", { name: "知道了" }));
    expect(onAcknowledge).toHaveBeenCalledTimes(1);
  });

  it("shows nothing when every change was accepted, and no button once all are read", () => {
    const view = render(Problems, { props: { problems: [], onAcknowledge: vi.fn() } });
    expect(screen.queryByTestId("problems")).toBeNull();
    view.unmount();
    locale.lang = "en";
    render(Problems, { props: { problems: [setAside], onAcknowledge: vi.fn() } });
    expect(screen.getByTestId("problem").textContent).toContain("Not within your orders; the server set it aside: the work log");
    expect(screen.queryByRole("button", { name: "Got it" })).toBeNull();
  });
});
