import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Expense } from "../lib/bindings/Expense";
import type { ExpenseInput } from "../lib/bindings/ExpenseInput";
import type { TimeInput } from "../lib/bindings/TimeInput";
import { locale } from "../lib/locale.svelte";
import TimeExpenses from "./TimeExpenses.svelte";

const ID = "0193b1c2-0000-7000-8000-000000000001";

function setup(expenses: Expense[] = []) {
  const onTime = vi.fn(async (_: TimeInput) => {});
  const onExpense = vi.fn(async (_: ExpenseInput) => {});
  render(TimeExpenses, { props: { orderId: ID, timeEntries: [], expenses, onTime, onExpense } });
  return { onTime, onExpense };
}

describe("time and expenses", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("books half a day of labour", async () => {
    const { onTime } = setup();
    await fireEvent.input(screen.getByTestId("time-days"), { target: { value: "0.5" } });
    await fireEvent.click(screen.getByRole("button", { name: "记工时" }));
    expect(onTime).toHaveBeenCalledWith({ order_id: ID, days: 0.5 });
  });

  it("sends a transport amount as typed, and lodging as days for the schedule to price", async () => {
    const { onExpense } = setup();
    await fireEvent.input(screen.getByTestId("expense-amount"), { target: { value: "86.50" } });
    await fireEvent.click(screen.getByRole("button", { name: "记费用" }));
    expect(onExpense).toHaveBeenLastCalledWith({ order_id: ID, kind: "transport", days: null, amount: "86.50", note: null });
    await fireEvent.change(screen.getByTestId("expense-kind"), { target: { value: "lodging" } });
    expect(screen.queryByTestId("expense-amount")).toBeNull();
    expect(screen.getByText("按收费标准每日定额计算")).toBeTruthy();
    await fireEvent.input(screen.getByTestId("expense-days"), { target: { value: "2" } });
    await fireEvent.click(screen.getByRole("button", { name: "记费用" }));
    expect(onExpense).toHaveBeenLastCalledWith({ order_id: ID, kind: "lodging", days: 2, amount: null, note: null });
  });

  it("lists the expenses with the amount the schedule gave, and says a refusal in words", async () => {
    const onExpense = vi.fn(async () => {
      throw { code: "invalid", message: "give the amount paid, above 0" };
    });
    render(TimeExpenses, {
      props: {
        orderId: ID,
        timeEntries: [],
        expenses: [{ id: "e1", work_order_id: ID, kind: "lodging", day: "2026-12-05", amount: 30000, days: 2, note: null, voids: null }],
        onTime: vi.fn(),
        onExpense,
      },
    });
    expect(screen.getByTestId("expense").textContent).toContain("住宿费");
    expect(screen.getByTestId("expense").textContent).toContain("¥300.00");
    await fireEvent.click(screen.getByRole("button", { name: "记费用" }));
    expect((await screen.findByRole("alert")).textContent).not.toBe("");
  });
});
