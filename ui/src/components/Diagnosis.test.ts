import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DiagnosisInput } from "../lib/bindings/DiagnosisInput";
import { locale } from "../lib/locale.svelte";
import Diagnosis from "./Diagnosis.svelte";

const ID = "0193b1c2-0000-7000-8000-000000000001";

function props(over: Partial<{ causeApplies: boolean; editable: boolean }> = {}) {
  const onSave = vi.fn(async (_: DiagnosisInput) => {});
  return {
    onSave,
    props: { orderId: ID, diagnosis: null, chargeCause: null, causeApplies: true, editable: true, onSave, ...over },
  };
}

describe("the diagnosis", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("saves the findings, trimmed, free of charge by default", async () => {
    const { onSave, props: p } = props();
    render(Diagnosis, { props: p });
    await fireEvent.input(screen.getByTestId("diagnosis-text"), { target: { value: "  变频器IGBT模块击穿  " } });
    await fireEvent.click(screen.getByTestId("diagnosis-save"));
    expect(onSave).toHaveBeenCalledWith({ order_id: ID, diagnosis: "变频器IGBT模块击穿", charge_cause: null });
    expect((await screen.findByRole("status")).textContent).toBe("已保存在本机");
  });

  it("asks why in-warranty work is charged before it saves", async () => {
    const { onSave, props: p } = props();
    render(Diagnosis, { props: p });
    await fireEvent.click(screen.getByLabelText("用户人为损坏"));
    expect(screen.getByRole("alert").textContent).toBe("请写明原因：用户做了什么，或是哪种不可抗力。");
    expect((screen.getByTestId("diagnosis-save") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("diagnosis-reason"), { target: { value: "用户私自拆机" } });
    await fireEvent.click(screen.getByTestId("diagnosis-save"));
    expect(onSave).toHaveBeenCalledWith({
      order_id: ID,
      diagnosis: null,
      charge_cause: { cause: "user_damage", reason: "用户私自拆机" },
    });
  });

  it("offers no charge cause out of warranty, and is read-only once completed", async () => {
    const { props: p } = props({ causeApplies: false, editable: false });
    render(Diagnosis, { props: p });
    expect(screen.queryByLabelText("用户人为损坏")).toBeNull();
    expect(screen.queryByTestId("diagnosis-save")).toBeNull();
    expect(screen.getByText("工单已完成，诊断不能再修改。")).toBeTruthy();
  });

  it("shows a refusal in words and keeps what was typed", async () => {
    const onSave = vi.fn(async () => {
      throw { code: "invalid", message: "too long" };
    });
    render(Diagnosis, { props: { ...props().props, onSave } });
    await fireEvent.input(screen.getByTestId("diagnosis-text"), { target: { value: "过流" } });
    await fireEvent.click(screen.getByTestId("diagnosis-save"));
    expect((await screen.findByRole("alert")).textContent).not.toBe("");
    expect((screen.getByTestId("diagnosis-text") as HTMLTextAreaElement).value).toBe("过流");
  });
});
