import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'packages/*/test/**/*.spec.ts',
            'scripts/test/**/*.spec.ts',
            'examples/contracts/test/**/*.spec.ts',
            'chaos/test/**/*.spec.ts',
          ],
          environment: 'node',
          // Fast pure tests first; projects with different maxWorkers must run in separate groups.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            'packages/*/test/**/*.test.ts',
            'examples/demo/**/*.test.ts',
            'examples/billing/test/**/*.test.ts',
            // The orders service as tsc built it (its entities' decorator metadata is tsc's).
            'examples/orders/test/**/*.test.ts',
            'bench/test/**/*.test.ts',
            'scripts/test/**/*.test.ts',
          ],
          exclude: ['packages/nestjs-adapter/test/**'],
          environment: 'node',
          globalSetup: ['test-support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Child processes, so crash tests can SIGKILL relays without taking a worker thread down.
          pool: 'forks',
          // Each file isolates itself (own schema, own exchange and queue names), and the tests mostly
          // wait on PostgreSQL and RabbitMQ, so run more files at once than this 2-core machine's
          // default of one worker.
          fileParallelism: true,
          maxWorkers: Number(process.env.TXBOX_TEST_WORKERS) || 4,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // NestJS resolves constructor parameters from decorator metadata, which Vite's default
        // TypeScript transform drops: SWC emits it, as tsc does in a real Nest build.
        plugins: [
          swc.vite({
            // The Prisma client the ORM tests generate is TypeScript under node_modules: SWC compiles it too.
            exclude: '**/node_modules/!(.txbox-prisma-test)/**',
            jsc: {
              parser: { syntax: 'typescript', decorators: true },
              transform: { legacyDecorator: true, decoratorMetadata: true },
            },
          }),
        ],
        test: {
          name: 'nestjs',
          include: ['packages/nestjs-adapter/test/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test-support/global-setup.ts'],
          testTimeout: 90_000,
          hookTimeout: 60_000,
          pool: 'forks',
          maxWorkers: Number(process.env.TXBOX_TEST_WORKERS) || 4,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The 30-second fault-injection run. It restarts the RabbitMQ application, so it runs
        // alone, after every other project has finished.
        test: {
          name: 'chaos',
          include: ['chaos/test/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test-support/global-setup.ts'],
          testTimeout: 480_000,
          hookTimeout: 240_000,
          pool: 'forks',
          sequence: { groupOrder: 2 },
        },
      },
      {
        // Restarts the PostgreSQL every other test uses: alone, after everything else.
        test: {
          name: 'restarts',
          include: ['test/disruptive/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test-support/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          pool: 'forks',
          sequence: { groupOrder: 3 },
        },
      },
      {
        // A RabbitMQ node of the local three-node cluster SIGKILLed mid-run. Runs after everything
        // else, and only when scripts/ci-cluster.sh started the cluster and set TXBOX_TEST_CLUSTER_URLS
        // (without it the test skips itself with that message, so `vitest run` passes on any machine).
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          environment: 'node',
          // Each file kills cluster nodes: one at a time.
          fileParallelism: false,
          globalSetup: ['test-support/global-setup.ts'],
          testTimeout: 400_000,
          hookTimeout: 120_000,
          pool: 'forks',
          sequence: { groupOrder: 4 },
        },
      },
    ],
  },
});
