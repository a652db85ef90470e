// @ts-check
// Undo steps for tests and bench scenarios (types and documentation in cleanup-stack.d.mts).

export class CleanupStack {
  /** @type {Set<CleanupStack>} */
  static active = new Set();
  /** @type {{ label: string, undo: () => unknown }[]} */
  #steps = [];

  /**
   * @param {string} label
   * @param {() => unknown} undo
   */
  add(label, undo) {
    CleanupStack.active.add(this);
    this.#steps.push({ label, undo });
  }

  /** @param {(message: string) => void} [log] */
  async run(log = () => {}) {
    CleanupStack.active.delete(this);
    for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
      try {
        await step.undo();
      } catch (error) {
        log(`cleanup "${step.label}" failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
