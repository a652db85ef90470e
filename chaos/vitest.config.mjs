// @ts-check
// Runs only the 30-second chaos test: npx vitest run --config chaos/vitest.config.mjs
// (the root vitest.config.ts should carry the same project, after the integration tests).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    projects: [
      {
        test: {
          name: 'chaos',
          include: ['chaos/test/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test-support/global-setup.ts'],
          testTimeout: 480_000,
          hookTimeout: 240_000,
          pool: 'forks',
          // It restarts the RabbitMQ application: start only once the integration tests are done.
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
