import { cleanup, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it } from "vitest";
import type { SyncStatus } from "../lib/bindings/SyncStatus";
import { locale } from "../lib/locale.svelte";
import SyncBar from "./SyncBar.svelte";

function bar(status: SyncStatus) {
  return render(SyncBar, { props: { status, onSyncNow: () => {} } });
}

describe("the sync bar", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("shows offline, what waits to be sent and the last sync", () => {
    bar({
      state: { state: "offline", since: "2026-11-23T08:00:00Z", retry_in_ms: 4000, pending: 3, last_error: "no connection" },
      last_synced_at: "2026-11-23T07:58:00Z",
      clock_ahead_ms: null,
      problems: 0,
    });
    expect(screen.getByTestId("sync-connection").textContent).toBe("离线");
    expect(screen.getByTestId("sync-pending").textContent?.trim()).toBe("3 项待发送");
    expect(screen.getByTestId("sync-last").textContent?.trim()).toMatch(/^上次同步 2026/);
    expect(screen.getByText(/4 秒后重试/)).toBeTruthy();
  });

  it("counts the changes the server did not accept until the engineer has read them", () => {
    const idle = { state: "idle" as const, last_synced_at: "2026-11-23T08:00:00Z", pending: 0 };
    const view = bar({ state: idle, last_synced_at: "2026-11-23T08:00:00Z", clock_ahead_ms: null, problems: 2 });
    expect(screen.getByTestId("sync-problems").textContent).toBe("2 项更改未被服务器接受，见工单");
    view.unmount();
    bar({ state: idle, last_synced_at: "2026-11-23T08:00:00Z", clock_ahead_ms: null, problems: 0 });
    expect(screen.queryByTestId("sync-problems")).toBeNull();
  });

  it("shows a progress bar while sending", () => {
    bar({ state: { state: "syncing", phase: "push", done: 20, total: 80 }, last_synced_at: null, clock_ahead_ms: null, problems: 0 });
    const progress = screen.getByRole("progressbar") as HTMLProgressElement;
    expect(progress.value).toBeCloseTo(0.25);
    expect(screen.getByText(/发送中 20\/80/)).toBeTruthy();
    expect(screen.getByTestId("sync-last").textContent?.trim()).toBe("尚未同步");
    expect((screen.getByTestId("sync-now") as HTMLButtonElement).disabled).toBe(true);
  });

  it("says why a sync failed, in the chosen language", () => {
    locale.lang = "en";
    bar({ state: { state: "sign_in_required", pending: 2 }, last_synced_at: null, clock_ahead_ms: null, problems: 0 });
    expect(screen.getByRole("alert").textContent).toBe(
      "The session expired: sign in again (nothing on this laptop is lost).",
    );
    expect(screen.getByTestId("sync-pending").textContent?.trim()).toBe("2 not sent");
  });

  it("tells the engineer when the laptop's clock is far off, in both languages", () => {
    bar({
      state: { state: "idle", last_synced_at: "2026-11-23T07:58:00Z", pending: 0 },
      last_synced_at: "2026-11-23T07:58:00Z",
      clock_ahead_ms: (3 * 60 + 5) * 60 * 1000,
      problems: 0,
    });
    expect(screen.getByTestId("sync-clock").textContent).toBe(
      "本机时钟比服务器快 3小时5分：请校正系统时间（记录仍按服务器时间保存）。",
    );
    cleanup();
    locale.lang = "en";
    bar({
      state: { state: "idle", last_synced_at: "2026-11-23T07:58:00Z", pending: 0 },
      last_synced_at: "2026-11-23T07:58:00Z",
      clock_ahead_ms: -2 * 24 * 3600 * 1000,
      problems: 0,
    });
    expect(screen.getByTestId("sync-clock").textContent).toContain("2 d 0 h behind the server");
    cleanup();
    bar({ state: { state: "idle", last_synced_at: "2026-11-23T07:58:00Z", pending: 0 }, last_synced_at: null, clock_ahead_ms: null, problems: 0 });
    expect(screen.queryByTestId("sync-clock")).toBeNull();
  });
});
