import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PreviousReports } from "../lib/bindings/PreviousReports";
import type { WorkOrder } from "../lib/bindings/WorkOrder";
import { locale } from "../lib/locale.svelte";
import PreviousReportsView from "./PreviousReports.svelte";

// pdf.js needs a real canvas: the preview's drawing is replaced, its use is checked.
const renderPdf = vi.fn(async () => 2);
vi.mock("../lib/pdf", () => ({ renderPdf }));

const ID = "0193b1c2-0000-7000-8000-000000000001";
const earlier = {
  id: "0193b1c2-0000-7000-8000-0000000000e1", number: "SC2412-03", reported_at: "2024-12-03T02:00:00Z",
  fault_description: "温控器报警", diagnosis: "温控器探头损坏", repair_result: "更换探头，试运行正常", status: "closed",
} as WorkOrder;

function setup(answers: PreviousReports[]) {
  const onList = vi.fn(async (_: string) => {
    const next = answers.shift();
    if (!next) throw { code: "offline", message: "no more" };
    return next;
  });
  const onPdf = vi.fn(async (_: string) => new ArrayBuffer(8));
  render(PreviousReportsView, { props: { orderId: ID, onList, onPdf } });
  return { onList, onPdf };
}

describe("earlier reports of the equipment", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("lists them with cause and result, and shows one's pages in the window", async () => {
    const { onList, onPdf } = setup([{ reports: [earlier], fetched_at: "2026-12-06T01:00:00Z", offline: false }]);
    const line = await screen.findByTestId("previous-report");
    expect(onList).toHaveBeenCalledWith(ID);
    expect(line.textContent).toContain("SC2412-03");
    expect(line.textContent).toContain("故障原因：温控器探头损坏");
    expect(line.textContent).toContain("维修结果：更换探头，试运行正常");
    await fireEvent.click(screen.getByRole("button", { name: "查看报告" }));
    expect(onPdf).toHaveBeenCalledWith(earlier.id);
    expect(await screen.findByRole("dialog", { name: "维修记录 SC2412-03" })).toBeTruthy();
    await waitFor(() => expect(renderPdf).toHaveBeenCalled());
    await fireEvent.keyDown(window, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("says when it shows the kept ones offline, or has never fetched any, in English", async () => {
    locale.lang = "en";
    setup([
      { reports: [earlier], fetched_at: "2026-12-06T01:00:00Z", offline: true },
      { reports: [], fetched_at: null, offline: true },
    ]);
    expect((await screen.findByRole("status")).textContent).toContain("Offline: showing the reports fetched");
    await fireEvent.click(screen.getByRole("button", { name: "Fetch again" }));
    await waitFor(() => expect(screen.getByTestId("previous-reports").textContent).toContain("Not fetched yet"));
  });

  it("asks again every minute while offline and shows the fetched list once the server answers", async () => {
    vi.useFakeTimers();
    try {
      const { onList } = setup([
        { reports: [], fetched_at: null, offline: true },
        { reports: [], fetched_at: null, offline: true },
        { reports: [earlier], fetched_at: "2026-12-06T03:00:00Z", offline: false },
      ]);
      await vi.waitFor(() => expect(screen.getByTestId("previous-reports").textContent).toContain("尚未获取"));
      await vi.advanceTimersByTimeAsync(60_000);
      expect(onList).toHaveBeenCalledTimes(2);
      expect(screen.queryByTestId("previous-report")).toBeNull();
      await vi.advanceTimersByTimeAsync(60_000);
      await vi.waitFor(() => expect(screen.getByTestId("previous-report").textContent).toContain("SC2412-03"));
      await vi.advanceTimersByTimeAsync(120_000);
      expect(onList).toHaveBeenCalledTimes(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it("asks again when the app has synced, once offline", async () => {
    const onList = vi
      .fn(async (_: string): Promise<PreviousReports> => ({ reports: [earlier], fetched_at: "2026-12-06T03:00:00Z", offline: false }))
      .mockResolvedValueOnce({ reports: [], fetched_at: null, offline: true });
    const onPdf = vi.fn(async (_: string) => new ArrayBuffer(8));
    const view = render(PreviousReportsView, { props: { orderId: ID, synced: 1, onList, onPdf } });
    await waitFor(() => expect(screen.getByTestId("previous-reports").textContent).toContain("尚未获取"));
    await view.rerender({ orderId: ID, synced: 2, onList, onPdf });
    await waitFor(() => expect(screen.getByTestId("previous-report").textContent).toContain("SC2412-03"));
    expect(onList).toHaveBeenCalledTimes(2);
  });
});
