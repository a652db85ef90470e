// An inbox consumer in its own process, for crash tests: configured by env vars, prints READY
// once consuming, and runs until killed. Its handler writes an effect row with the handler's
// transaction client, then announces where it is on stdout so the test can SIGKILL it there.
//
//   TXBOX_DATABASE_URL, TXBOX_AMQP_URL, TXBOX_SCHEMA, TXBOX_EXCHANGE, TXBOX_GROUP (required)
//   TXBOX_MODE:
//     commit  prints `COMMITTING <id>`, sleeps TXBOX_SLEEP_MS (default 300), then waits for
//             TXBOX_GATE_FILE to exist (when set) and returns, so the transaction commits.
//     hang    prints `IN_HANDLER <id>` and sleeps 30 s inside the open transaction.
import { existsSync } from 'node:fs';
import { defineMessage } from '@txbox/core';
import { createConsumer, defineHandler } from '@txbox/inbox';
import { z } from 'zod';
import { announceReady, requiredEnv } from '../../../../test-support/child-process.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Same contract as CrashApplied in inbox-crash-support.ts.
const CrashApplied = defineMessage({
  type: 'crash.inbox.applied',
  version: 1,
  schema: z.object({ n: z.number().int() }),
});

const schema = requiredEnv('TXBOX_SCHEMA');
const mode = requiredEnv('TXBOX_MODE');
const sleepMs = Number(process.env.TXBOX_SLEEP_MS || 300);
const gateFile = process.env.TXBOX_GATE_FILE;
const effects = `"${schema}".effects`;

const consumer = createConsumer({
  group: requiredEnv('TXBOX_GROUP'),
  database: requiredEnv('TXBOX_DATABASE_URL'),
  amqp: requiredEnv('TXBOX_AMQP_URL'),
  schema,
  exchange: requiredEnv('TXBOX_EXCHANGE'),
  concurrency: 1,
  prefetch: 1,
  retention: { intervalMs: 0 },
  handlers: [
    defineHandler(CrashApplied, async (_payload, ctx) => {
      const id = ctx.envelope.id;
      await ctx.client.query(`INSERT INTO ${effects} (message_id, applied_by) VALUES ($1, $2)`, [id, `child-${mode}`]);
      if (mode === 'commit') {
        process.stdout.write(`COMMITTING ${id}\n`);
        await sleep(sleepMs);
        if (gateFile) {
          const deadline = Date.now() + 30_000;
          while (!existsSync(gateFile) && Date.now() < deadline) await sleep(10);
        }
        return;
      }
      if (mode === 'hang') {
        process.stdout.write(`IN_HANDLER ${id}\n`);
        await sleep(30_000);
        return;
      }
      throw new Error(`unknown TXBOX_MODE ${mode}`);
    }),
  ],
  logger: {
    debug() {},
    info() {},
    warn: (msg, fields) => process.stderr.write(`WARN ${msg} ${JSON.stringify(fields ?? {})}\n`),
    error: (msg, fields) => process.stderr.write(`ERROR ${msg} ${JSON.stringify(fields ?? {})}\n`),
  },
});

process.on('SIGTERM', () => {
  consumer.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});

await consumer.start();
announceReady();
setInterval(() => {}, 60_000);
