import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PartInput } from "../lib/bindings/PartInput";
import type { PartRow } from "../lib/bindings/PartRow";
import type { VanStockLine } from "../lib/bindings/VanStockLine";
import { locale } from "../lib/locale.svelte";
import Parts from "./Parts.svelte";

const ID = "0193b1c2-0000-7000-8000-000000000001";
const part = (id: string, code: string, name: string, price: number) => ({
  id, part_number: code, name, unit: "个", unit_price: price,
});
const fuse = part("p1", "FU-10A", "熔断器 10A", 1250);
const fan = part("p2", "FAN-120", "散热风扇", 8800);
const van: VanStockLine[] = [
  { part_id: "p1", part: fuse, counted: 3, used_pending: 1, available: 2 },
  { part_id: "p2", part: fan, counted: 0, used_pending: 0, available: 0 },
];

function setup(rows: PartRow[] = [], paid = false) {
  const onSearch = vi.fn(async (q: string) =>
    van.filter((l) => !q || l.part!.part_number.includes(q) || l.part!.name.includes(q)),
  );
  const onAdd = vi.fn(async (_: PartInput) => {});
  const onCancel = vi.fn(async () => {});
  const onBackAtHq = vi.fn(async () => {});
  render(Parts, { props: { orderId: ID, rows, paid, editable: true, onSearch, onAdd, onCancel, onBackAtHq } });
  return { onSearch, onAdd, onCancel, onBackAtHq };
}

describe("parts on site", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("searches the van by name and uses a part as 三包 from the van, with the old part returned", async () => {
    const { onSearch, onAdd } = setup();
    await waitFor(() => expect(screen.getAllByTestId("van-line")).toHaveLength(2));
    await fireEvent.input(screen.getByTestId("parts-search"), { target: { value: "熔断" } });
    await waitFor(() => expect(screen.getAllByTestId("van-line")).toHaveLength(1));
    expect(onSearch).toHaveBeenLastCalledWith("熔断");
    expect(screen.getByTestId("van-line").textContent).toContain("剩 2 个");
    await fireEvent.click(screen.getByRole("button", { name: "选用" }));
    await fireEvent.change(screen.getByTestId("part-old"), { target: { value: "return_for_repair" } });
    expect(screen.getByText("带回返修或报废的旧件，回到公司后 16 小时内办理入库单。")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("part-save"));
    expect(onAdd).toHaveBeenCalledWith({
      order_id: ID, part_id: "p1", quantity: 1, warranty: true, from_van_stock: true, old_part: "return_for_repair",
    });
  });

  it("warns before taking more than the van holds, and lets the part come from elsewhere", async () => {
    const { onAdd } = setup([], true);
    await waitFor(() => expect(screen.getAllByTestId("van-line")).toHaveLength(2));
    await fireEvent.click(screen.getAllByRole("button", { name: "选用" })[0]);
    await fireEvent.input(screen.getByTestId("part-quantity"), { target: { value: "3" } });
    expect(screen.getByTestId("part-short").textContent).toBe("随车库存只剩 2 件：减少数量，或取消勾选“随车库存”。");
    expect((screen.getByTestId("part-save") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByLabelText("随车库存"));
    await fireEvent.click(screen.getByTestId("part-save"));
    expect(onAdd).toHaveBeenCalledWith({
      order_id: ID, part_id: "p1", quantity: 3, warranty: false, from_van_stock: false, old_part: null,
    });
  });

  it("lists the parts used with their charge, and takes one back", async () => {
    const rows: PartRow[] = [{
      usage: { id: "u1", work_order_id: ID, part_id: "p2", quantity: 2, warranty: false, unit_price: 8800, old_part: "scrap", from_van_stock: true, voids: null },
      part: fan,
      warehouse: { part_usage_id: "u1", receipt: null, due_by: null, late: false },
    }];
    const { onCancel } = setup(rows);
    const line = screen.getByTestId("part-used");
    expect(line.textContent).toContain("FAN-120");
    expect(line.textContent).toContain("客户购买");
    expect(line.textContent).toContain("¥88.00");
    expect(line.textContent).toContain("报废");
    await fireEvent.click(screen.getByRole("button", { name: "撤销" }));
    expect(onCancel).toHaveBeenCalledWith({ order_id: ID, usage_id: "u1" });
  });

  it("opens the warehouse receipts back at HQ and shows each deadline, late in red", async () => {
    const usage = (id: string, old: "return_for_repair" | "scrap" | "customer_keeps") => ({
      id, work_order_id: ID, part_id: "p1", quantity: 1, warranty: true, unit_price: 1250, old_part: old, from_van_stock: true, voids: null,
    });
    const receipt = (usageId: string, booked: string | null) => ({
      id: `r-${usageId}`, work_order_id: ID, part_usage_id: usageId, returned_at: "2026-12-01T08:00:00Z",
      booked_at: booked, nonconformance: null, voids: null,
    });
    const waiting: PartRow[] = [
      { usage: usage("u1", "return_for_repair"), part: fuse, warehouse: { part_usage_id: "u1", receipt: null, due_by: null, late: false } },
      { usage: usage("u2", "customer_keeps"), part: fuse, warehouse: null },
    ];
    const { onBackAtHq } = setup(waiting);
    expect(screen.getByTestId("part-receipt").textContent).toContain("待入库：回到公司后 16 小时内办理入库单");
    expect(screen.getByTestId("back-at-hq").textContent).toContain("1 件旧件待入库");
    await fireEvent.click(screen.getByRole("button", { name: "已回到公司，办理入库单" }));
    expect(onBackAtHq).toHaveBeenCalledWith({ order_id: ID });
    cleanup();

    locale.lang = "en";
    setup([
      { usage: usage("u1", "return_for_repair"), part: fuse, warehouse: { part_usage_id: "u1", receipt: receipt("u1", null), due_by: "2026-12-02T00:00:00Z", late: true } },
      { usage: usage("u3", "scrap"), part: fuse, warehouse: { part_usage_id: "u3", receipt: receipt("u3", "2026-12-01T10:00:00Z"), due_by: "2026-12-02T00:00:00Z", late: false } },
    ]);
    const [late, booked] = screen.getAllByTestId("part-receipt");
    expect(late.textContent).toContain("Booking in is late (due");
    expect(late.classList.contains("late")).toBe(true);
    expect(booked.textContent).toContain("Booked in");
    expect(booked.classList.contains("late")).toBe(false);
    expect(screen.queryByTestId("back-at-hq")).toBeNull();
  });
});
