/**
 * Orders what the window hears from the sync engine. Its events arrive in order and the
 * last one is the engine's state now. A state asked for with a command may wait (for the
 * local store, which a first sync holds) and come back older than an event heard
 * meanwhile: it is then dropped, or the sync bar would stay on "syncing" after the sync.
 */
export class EventClock {
  private heard = 0;

  /** An event arrived. */
  heardEvent(): void {
    this.heard += 1;
  }

  /** Runs `ask`, and hands its answer to `use` only if no event arrived meanwhile. */
  async ask<T>(ask: () => Promise<T>, use: (answer: T) => void): Promise<void> {
    const before = this.heard;
    const answer = await ask();
    if (this.heard === before) use(answer);
  }
}
