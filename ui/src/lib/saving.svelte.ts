// The state of one form's save, the same in every form of the order screen: busy while it
// runs (the buttons wait), "已保存在本机" after, the refusal in words when it failed.
import type { UiError } from "./api";

export class Saving {
  busy = $state(false);
  saved = $state(false);
  error: UiError | null = $state(null);

  /** Runs `save`; true when it succeeded. A failure is kept in `error`, never thrown. */
  async run(save: () => Promise<void>): Promise<boolean> {
    this.busy = true;
    this.saved = false;
    this.error = null;
    try {
      await save();
      this.saved = true;
      return true;
    } catch (e) {
      this.error = e as UiError;
      return false;
    } finally {
      this.busy = false;
    }
  }

  /** A fresh form (another order shown). */
  reset() {
    this.saved = false;
    this.error = null;
  }
}
