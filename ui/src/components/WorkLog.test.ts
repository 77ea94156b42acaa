import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { LogEntry } from "../lib/bindings/LogEntry";
import type { LogInput } from "../lib/bindings/LogInput";
import { locale } from "../lib/locale.svelte";
import WorkLog from "./WorkLog.svelte";

const ID = "0193b1c2-0000-7000-8000-000000000001";

describe("the daily work log", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("needs today's work, then saves it with progress, problems and plan and empties the form", async () => {
    const onWrite = vi.fn(async (_: LogInput) => {});
    render(WorkLog, { props: { orderId: ID, entries: [], onWrite } });
    await fireEvent.click(screen.getByRole("button", { name: "保存日志" }));
    expect(onWrite).not.toHaveBeenCalled();
    expect(screen.getByRole("alert").textContent).toBe("请写下今天完成的工作。");
    await fireEvent.input(screen.getByTestId("log-text"), { target: { value: "更换电缆，复测绝缘" } });
    await fireEvent.input(screen.getByTestId("log-progress"), { target: { value: "80%" } });
    await fireEvent.input(screen.getByTestId("log-plan"), { target: { value: "联调" } });
    await fireEvent.click(screen.getByRole("button", { name: "保存日志" }));
    expect(onWrite).toHaveBeenCalledWith({
      order_id: ID, text: "更换电缆，复测绝缘", progress: "80%", open_problems: null, next_plan: "联调",
    });
    expect((await screen.findByRole("status")).textContent).toBe("已保存在本机");
    expect((screen.getByTestId("log-text") as HTMLTextAreaElement).value).toBe("");
  });

  it("lists the days written, in the order the app gives", () => {
    const entry = (id: string, day: string, text: string): LogEntry => ({
      id, work_order_id: ID, day, text, progress: null, open_problems: "缺少接线端子", next_plan: null, author_id: null, voids: null,
    });
    render(WorkLog, {
      props: { orderId: ID, entries: [entry("b", "2026-12-05", "第二天"), entry("a", "2026-12-04", "第一天")], onWrite: vi.fn() },
    });
    const days = screen.getAllByTestId("log-entry");
    expect(days.map((d) => d.querySelector("p")?.textContent)).toEqual(["第二天", "第一天"]);
    expect(days[0].textContent).toContain("存在的问题：缺少接线端子");
  });
});
