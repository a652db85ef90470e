/**
 * Undo steps run last-in first-out, each on its own: a failing step is reported (to `log`) and the
 * others still run. What creates something registers its undo as soon as it exists. Used by the
 * bench scenarios directly and by `useCleanup()` in tests.
 */
export class CleanupStack {
  /** Stacks with steps not yet run, so an interrupted run (Ctrl-C) can still run them. */
  static readonly active: Set<CleanupStack>;
  /** Registers `undo`; `label` names it when it fails. */
  add(label: string, undo: () => unknown): void;
  /** Runs every registered step, last first; resolves once all have settled. */
  run(log?: (message: string) => void): Promise<void>;
}
