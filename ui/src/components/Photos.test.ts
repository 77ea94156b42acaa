import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Attachment } from "../lib/bindings/Attachment";
import type { PhotoInput } from "../lib/bindings/PhotoInput";
import { locale } from "../lib/locale.svelte";
import Photos from "./Photos.svelte";

const ID = "0193b1c2-0000-7000-8000-000000000001";

function photo(id: string, sha: string, caption: string, extra: Partial<Attachment> = {}): Attachment {
  return {
    id, work_order_id: ID, sha256: sha.repeat(64), kind: "nameplate", mime: "image/jpeg", size: 2_400_000, caption,
    voids: null, width: 2560, height: 1920, original_sha256: null, ...extra,
  };
}

describe("the order's photos", () => {
  beforeEach(() => {
    let n = 0;
    URL.createObjectURL = vi.fn(() => `blob:${++n}`);
    URL.revokeObjectURL = vi.fn();
  });
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("needs a file, then imports it with its kind and caption as raw bytes and empties the form", async () => {
    const onImport = vi.fn(async (_: PhotoInput, __: Uint8Array) => {});
    render(Photos, { props: { orderId: ID, photos: [], editable: true, onImport, onThumbnail: vi.fn(), onPhoto: vi.fn() } });
    await fireEvent.click(screen.getByRole("button", { name: "导入照片" }));
    expect(onImport).not.toHaveBeenCalled();
    expect(screen.getByRole("alert").textContent).toBe("请先选择一张照片（JPEG 或 PNG）。");

    const file = new File([new Uint8Array([0xff, 0xd8, 0xff, 0xe0])], "铭牌.jpg", { type: "image/jpeg" });
    await fireEvent.change(screen.getByTestId("photo-file"), { target: { files: [file] } });
    await fireEvent.change(screen.getByTestId("photo-kind"), { target: { value: "nameplate" } });
    await fireEvent.input(screen.getByTestId("photo-caption"), { target: { value: "  电机铭牌 " } });
    await fireEvent.click(screen.getByRole("button", { name: "导入照片" }));
    expect(onImport).toHaveBeenCalledTimes(1);
    const [input, bytes] = onImport.mock.calls[0];
    expect(input).toEqual({ order_id: ID, kind: "nameplate", caption: "电机铭牌" });
    expect(Array.from(bytes)).toEqual([0xff, 0xd8, 0xff, 0xe0]);
    expect((await screen.findByRole("status")).textContent).toBe("已保存在本机");
    await vi.waitFor(() => expect((screen.getByTestId("photo-caption") as HTMLInputElement).value).toBe(""));
  });

  it("says why a file is refused and keeps the form", async () => {
    const onImport = vi.fn(async () => {
      throw { code: "invalid", message: "this file is not a JPEG or PNG picture: choose a photo" };
    });
    render(Photos, { props: { orderId: ID, photos: [], editable: true, onImport, onThumbnail: vi.fn(), onPhoto: vi.fn() } });
    const file = new File(["hello"], "notes.txt", { type: "text/plain" });
    await fireEvent.change(screen.getByTestId("photo-file"), { target: { files: [file] } });
    await fireEvent.input(screen.getByTestId("photo-caption"), { target: { value: "现场" } });
    await fireEvent.click(screen.getByRole("button", { name: "导入照片" }));
    expect((await screen.findByRole("alert")).textContent).toContain("JPEG or PNG");
    expect((screen.getByTestId("photo-caption") as HTMLInputElement).value).toBe("现场");
  });

  it("shows a thumbnail of each photo at once, the full picture only when asked, and says when it is not here", async () => {
    const onThumbnail = vi.fn(async (sha: string) => {
      if (sha === "c".repeat(64)) throw { code: "photo_not_here", message: "offline" };
      return new Uint8Array([0xff, 0xd8]).buffer;
    });
    const onPhoto = vi.fn(async () => new Uint8Array([0xff, 0xd8]).buffer);
    render(Photos, {
      props: {
        orderId: ID,
        photos: [photo("a1", "a", "铭牌", { original_sha256: "d".repeat(64) }), photo("a3", "c", "控制柜内部", { kind: "site" })],
        editable: false, onImport: vi.fn(), onThumbnail, onPhoto,
      },
    });
    expect(screen.queryByTestId("photo-form")).toBeNull();
    expect(await screen.findAllByTestId("photo-thumb")).toHaveLength(1);
    expect(onThumbnail).toHaveBeenCalledTimes(2);
    const rows = screen.getAllByTestId("photo");
    expect(rows[0].textContent).toContain("铭牌");
    expect(rows[0].textContent).toContain("2560×1920 · 2.4 MB");
    expect(rows[0].textContent).toContain("原图保存在本机");
    expect(rows[1].textContent).toContain("现场");
    expect((await screen.findByRole("alert")).textContent).toBe("这张照片还不在本机，联网后即可查看。");
    expect(onPhoto).not.toHaveBeenCalled();
    await fireEvent.click(screen.getAllByRole("button", { name: "查看" })[0]);
    expect(onPhoto).toHaveBeenCalledWith("a".repeat(64));
    expect(rows[0].querySelector("img.full")).not.toBeNull();
  });

  it("speaks English", async () => {
    locale.lang = "en";
    render(Photos, { props: { orderId: ID, photos: [], editable: true, onImport: vi.fn(), onThumbnail: vi.fn(), onPhoto: vi.fn() } });
    expect(screen.getByRole("button", { name: "Import photo" })).toBeTruthy();
    expect(screen.getByText("No photos on this order yet.")).toBeTruthy();
  });
});
