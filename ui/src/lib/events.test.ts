import { describe, expect, it } from "vitest";
import { EventClock } from "./events";

describe("the sync state asked for and the sync state heard", () => {
  it("keeps an event heard while the asked state was on its way", async () => {
    const clock = new EventClock();
    let shown = "syncing";
    let answer: (s: string) => void = () => {};
    const asked = clock.ask(
      () => new Promise<string>((resolve) => (answer = resolve)),
      (s) => (shown = s),
    );
    // The sync ends and says so before the slow answer (read while syncing) comes back.
    clock.heardEvent();
    shown = "idle";
    answer("syncing");
    await asked;
    expect(shown).toBe("idle");
  });

  it("uses the asked state when nothing was heard meanwhile", async () => {
    const clock = new EventClock();
    let shown = "";
    await clock.ask(async () => "idle", (s) => (shown = s));
    expect(shown).toBe("idle");
  });
});
