import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Equipment } from "../lib/bindings/Equipment";
import type { RequestInput } from "../lib/bindings/RequestInput";
import type { ServiceRequest } from "../lib/bindings/ServiceRequest";
import { locale } from "../lib/locale.svelte";
import Requests from "./Requests.svelte";

const ID = "0193b1c2-0000-7000-8000-000000000001";
const transformer: Equipment = {
  id: "e1", customer_id: "c1", model: "SCB11-1000/10", serial: "2311-08", project_number: null, kind: null, size: null,
  location: "二号配电室", commissioned_on: null, warranty_until: null,
} as Equipment;

function setup(requests: ServiceRequest[] = []) {
  const onEquipment = vi.fn(async (_: string) => [transformer]);
  const onRegister = vi.fn(async (_: RequestInput) => {});
  render(Requests, { props: { orderId: ID, requests, onEquipment, onRegister } });
  return { onEquipment, onRegister };
}

describe("a new request on site (首问负责)", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("registers a request for equipment described from its nameplate, and asks for the fault first", async () => {
    const { onEquipment, onRegister } = setup();
    await fireEvent.click(screen.getByRole("button", { name: "为该客户登记新报修…" }));
    expect(onEquipment).toHaveBeenCalledWith(ID);
    await waitFor(() => expect(screen.getByTestId("request-equipment").textContent).toContain("SCB11-1000/10 · 2311-08 · 二号配电室"));
    await fireEvent.click(screen.getByTestId("request-save"));
    expect(screen.getByRole("alert").textContent).toBe("请填写客户反映的故障现象。");
    expect(onRegister).not.toHaveBeenCalled();
    await fireEvent.input(screen.getByTestId("request-equipment-text"), { target: { value: "SCB10-500 机号 2309-17" } });
    await fireEvent.change(screen.getByTestId("request-level"), { target: { value: "2" } });
    await fireEvent.input(screen.getByTestId("request-fault"), { target: { value: "温控器报警" } });
    await fireEvent.click(screen.getByTestId("request-save"));
    expect(onRegister).toHaveBeenCalledWith({
      order_id: ID, equipment_id: null, equipment_text: "SCB10-500 机号 2309-17", service_type: "repair",
      fault_level: 2, fault_description: "温控器报警", requested_service_at: null,
    });
    await waitFor(() => expect(screen.queryByTestId("request-form")).toBeNull());
  });

  it("registers one on equipment the laptop knows, in English", async () => {
    locale.lang = "en";
    const { onRegister } = setup();
    await fireEvent.click(screen.getByRole("button", { name: "Register a new request for this customer…" }));
    await waitFor(() => expect(screen.getByTestId("request-equipment").textContent).toContain("SCB11-1000/10"));
    await fireEvent.change(screen.getByTestId("request-equipment"), { target: { value: "e1" } });
    expect(screen.queryByTestId("request-equipment-text")).toBeNull();
    await fireEvent.change(screen.getByTestId("request-service"), { target: { value: "maintenance" } });
    await fireEvent.input(screen.getByTestId("request-fault"), { target: { value: "Annual service" } });
    await fireEvent.click(screen.getByRole("button", { name: "Register request" }));
    expect(onRegister).toHaveBeenCalledWith(expect.objectContaining({ equipment_id: "e1", equipment_text: null, service_type: "maintenance" }));
  });

  it("shows each request waiting to be sent, then the number the office's order got", () => {
    const request = (id: string, number: string | null): ServiceRequest => ({
      id, work_order_id: ID, equipment_id: null, equipment_text: "二号变压器", service_type: "repair", fault_level: 3,
      fault_description: "风机不转", requested_service_at: null, reported_at: "2026-12-06T02:00:00Z",
      created_order_id: number ? "o2" : null, created_order_number: number, voids: null,
    });
    setup([request("r1", null), request("r2", "SC2612-07")]);
    const [waiting, registered] = screen.getAllByTestId("request");
    expect(waiting.textContent).toContain("待发送");
    expect(waiting.textContent).toContain("故障维修 · 3 级 · 风机不转");
    expect(registered.textContent).toContain("已登记 SC2612-07");
  });
});
