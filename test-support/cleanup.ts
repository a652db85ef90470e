import { afterEach } from 'vitest';
import { CleanupStack } from './cleanup-stack.mjs';

export interface Cleanup {
  /**
   * Registers `undo` to run after the current test (last registered, first run), whether the test
   * passed or not: stop the consumer, close the publisher, delete the queues.
   */
  defer(undo: () => unknown): void;
}

/**
 * A cleanup registry for one test file (or `describe`): what a test defers runs in `afterEach`,
 * in reverse order (a CleanupStack, as the bench scenarios use). A failing step does not stop the
 * others and does not fail the test: after a crash test a channel or process is often already
 * gone, which is the point of the test. Call it at the top level: `const cleanup = useCleanup();`.
 */
export function useCleanup(): Cleanup {
  let stack = new CleanupStack();
  afterEach(async () => {
    const steps = stack;
    stack = new CleanupStack();
    await steps.run();
  });
  return {
    defer(undo) {
      stack.add('test cleanup', undo);
    },
  };
}
