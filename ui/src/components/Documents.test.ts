import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import { locale } from "../lib/locale.svelte";
import Documents from "./Documents.svelte";

// pdf.js needs a real canvas: the preview's drawing is replaced, its use is checked.
const renderPdf = vi.fn(async (_bytes: ArrayBuffer, into: HTMLElement) => {
  into.appendChild(document.createElement("canvas"));
  return 3;
});
vi.mock("../lib/pdf", () => ({ renderPdf }));

const ID = "0193b1c2-0000-7000-8000-000000000001";

function actions() {
  return {
    pdf: vi.fn(async () => new ArrayBuffer(8)),
    save: vi.fn(async () => ({ path: "/home/wang/SC2611-07_报价单.pdf", pages: 1, missing_glyphs: [] as string[] })),
    open: vi.fn(async () => ({ path: "/data/documents/SC2611-07.pdf", pages: 3, missing_glyphs: ["𠀀"] })),
  };
}

afterEach(() => {
  cleanup();
  locale.lang = "zh-CN";
});

describe("Documents", () => {
  it("saves the chosen document and says where", async () => {
    const a = actions();
    render(Documents, { props: { orderId: ID, actions: a } });
    await fireEvent.change(screen.getByLabelText("选择文件"), { target: { value: "quote" } });
    await fireEvent.click(screen.getByRole("button", { name: "另存为…" }));
    expect(a.save).toHaveBeenCalledWith(ID, "quote");
    expect((await screen.findByRole("status")).textContent).toContain("已保存（1 页）：/home/wang/SC2611-07_报价单.pdf");
  });

  it("says nothing when the engineer cancels the save dialog", async () => {
    const a = actions();
    a.save.mockResolvedValueOnce(null as never);
    render(Documents, { props: { orderId: ID, actions: a } });
    await fireEvent.click(screen.getByRole("button", { name: "另存为…" }));
    await Promise.resolve();
    expect(screen.queryByRole("status")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("opens to print and warns about characters the font lacks", async () => {
    const a = actions();
    render(Documents, { props: { orderId: ID, actions: a } });
    await fireEvent.click(screen.getByRole("button", { name: "打开并打印" }));
    expect(a.open).toHaveBeenCalledWith(ID, "repair_record");
    expect((await screen.findByRole("status")).textContent).toContain("可从那里打印");
    expect((screen.getByRole("alert")).textContent).toContain("𠀀");
  });

  it("shows a refused settlement in words", async () => {
    const a = actions();
    a.open.mockRejectedValueOnce({ code: "settlement_differs", message: "differs" });
    render(Documents, { props: { orderId: ID, actions: a } });
    await fireEvent.change(screen.getByLabelText("选择文件"), { target: { value: "settlement" } });
    await fireEvent.click(screen.getByRole("button", { name: "打开并打印" }));
    expect((await screen.findByRole("alert")).textContent).toContain("结算单与客户确认的报价不一致");
  });

  it("previews the pages in the window and closes with Escape", async () => {
    const a = actions();
    locale.lang = "en";
    render(Documents, { props: { orderId: ID, actions: a } });
    await fireEvent.click(screen.getByRole("button", { name: "Preview" }));
    const dialog = await screen.findByRole("dialog", { name: "Repair record (3 copies)" });
    expect(a.pdf).toHaveBeenCalledWith(ID, "repair_record");
    await vi.waitFor(() => expect(renderPdf).toHaveBeenCalled());
    expect(dialog.querySelector("canvas")).not.toBeNull();
    await fireEvent.keyDown(window, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
  });
});
