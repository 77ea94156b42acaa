import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Attachment } from "../lib/bindings/Attachment";
import type { MilestoneInput } from "../lib/bindings/MilestoneInput";
import type { TrainingInput } from "../lib/bindings/TrainingInput";
import { locale } from "../lib/locale.svelte";
import Milestones from "./Milestones.svelte";

const ID = "0193b1c2-0000-7000-8000-000000000001";
const photo: Attachment = {
  id: "p1", work_order_id: ID, sha256: "a".repeat(64), kind: "site", mime: "image/jpeg", size: 1000, caption: "送电成功",
  voids: null, width: 800, height: 600, original_sha256: null,
};

describe("milestones and training", () => {
  afterEach(() => {
    cleanup();
    locale.lang = "zh-CN";
  });

  it("records a milestone with its witness and a photo as evidence, after asking for its name", async () => {
    const onMilestone = vi.fn(async (_: MilestoneInput) => {});
    render(Milestones, { props: { orderId: ID, milestones: [], trainings: [], photos: [photo], onMilestone, onTraining: vi.fn() } });
    await fireEvent.click(screen.getByRole("button", { name: "记录里程碑" }));
    expect(onMilestone).not.toHaveBeenCalled();
    expect(screen.getByRole("alert").textContent).toBe("请写下达到的里程碑。");
    await fireEvent.input(screen.getByTestId("milestone-title"), { target: { value: "送电成功" } });
    await fireEvent.input(screen.getByTestId("milestone-witness"), { target: { value: " 李明 " } });
    await fireEvent.click(screen.getByRole("checkbox", { name: "送电成功" }));
    await fireEvent.click(screen.getByRole("button", { name: "记录里程碑" }));
    expect(onMilestone).toHaveBeenCalledWith({ order_id: ID, title: "送电成功", witness_name: "李明", photos: ["a".repeat(64)] });
    expect((await screen.findByRole("status")).textContent).toBe("已保存在本机");
  });

  it("records training with its attendees as typed and shows what was given, in both languages", async () => {
    const onTraining = vi.fn(async (_: TrainingInput) => {});
    const view = render(Milestones, {
      props: {
        orderId: ID, milestones: [], photos: [], onMilestone: vi.fn(), onTraining,
        trainings: [{ id: "t1", work_order_id: ID, material: "变频器参数设置", attendees: ["张三", "李四"], evaluation: "能独立点检", held_on: "2026-12-06", voids: null }],
      },
    });
    expect(screen.getByTestId("training").textContent).toContain("参加 2 人：张三、李四");
    await fireEvent.input(screen.getByTestId("training-material"), { target: { value: "日常点检" } });
    await fireEvent.click(screen.getByRole("button", { name: "记录培训" }));
    expect(onTraining).not.toHaveBeenCalled();
    expect(screen.getByRole("alert").textContent).toBe("请写下培训内容和参加人员。");
    await fireEvent.input(screen.getByTestId("training-attendees"), { target: { value: "王五，赵六" } });
    await fireEvent.click(screen.getByRole("button", { name: "记录培训" }));
    expect(onTraining).toHaveBeenCalledWith({ order_id: ID, material: "日常点检", attendees: "王五，赵六", evaluation: null });
    view.unmount();
    locale.lang = "en";
    render(Milestones, { props: { orderId: ID, milestones: [], trainings: [], photos: [], onMilestone: vi.fn(), onTraining: vi.fn() } });
    expect(screen.getByRole("button", { name: "Record training" })).toBeTruthy();
  });
});
