import { fileURLToPath } from 'node:url';
import { createRelay, migrateOutbox } from '@txbox/outbox';
import { outboxSql, outboxTables } from '@txbox/outbox/internal';
import { describe, expect, it } from 'vitest';
import {
  runChild,
  sleep,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useCleanup,
  useTestSchema,
  waitUntil,
} from '../../../../test-support/index.js';
import { startTcpProxy } from '../../../../test-support/tcp-proxy.mjs';
import {
  arrivalsOf,
  claimsWaiting,
  crashWriter,
  duplicateCounts,
  holdClaimLock,
  leasedBy,
  outboxCount,
  perKeyOrderViolation,
  type WrittenMessage,
  waitForIds,
  writeCommitted,
} from './crash-support.js';

const CHILD = fileURLToPath(new URL('./relay-child.mjs', import.meta.url));
const N = 500;
const LANES = 4;
const LEASE_MS = 3000;
const WAIT_MS = 30_000;

const broker = useAmqp();
const cleanup = useCleanup();

/** N messages over LANES concurrent writers; each lane owns two keys, every 10th message has no key. */
async function writeBacklog(
  pool: Parameters<typeof writeCommitted>[0],
  writer: Parameters<typeof writeCommitted>[1],
  committed: WrittenMessage[],
) {
  const perLane = N / LANES;
  await Promise.all(
    Array.from({ length: LANES }, (_, lane) => {
      const messages = Array.from({ length: perLane }, (_, i) => ({
        n: lane * perLane + i,
        key: i % 10 === 9 ? null : `lane${lane}-${i % 2 === 0 ? 'a' : 'b'}`,
      }));
      // Each lane appends to `committed` after each COMMIT, so per key it holds commit order.
      return writeCommitted(pool, writer, messages, 5, committed);
    }),
  );
}

/**
 * Runs a relay in a child process whose AMQP traffic goes through a proxy, lets it claim the
 * whole backlog in one batch, SIGKILLs it (after stalling the proxy, or while it publishes),
 * then lets a second relay take over after the lease and checks that nothing was lost.
 */
function killedRelayScenario(name: string, mode: 'stalled' | 'publishing') {
  describe(name, () => {
    const db = useTestSchema('crash_sigkill');

    it(mode === 'stalled'
      ? 'a relay killed with SIGKILL mid-batch (confirms stalled) loses nothing: another relay publishes its messages after the lease'
      : 'a relay killed with SIGKILL while its batch is being confirmed loses nothing: another relay publishes the rest after the lease', async () => {
      const { schema, pool, databaseUrl } = db;
      const exchange = uniqueName('crash_sigkill_x');
      await migrateOutbox({ database: databaseUrl, schema });
      const collector = await broker.bindCollector(exchange, '#');
      const writer = crashWriter(schema, exchange);
      const committed: WrittenMessage[] = [];

      const amqpUrl = testAmqpUrl();
      const target = new URL(amqpUrl);
      const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672));
      cleanup.defer(() => proxy.close());

      const childRelayId = uniqueName('doomed');
      const child = runChild(CHILD, [], {
        TXBOX_DATABASE_URL: databaseUrl,
        TXBOX_AMQP_URL: proxy.url(amqpUrl),
        TXBOX_SCHEMA: schema,
        TXBOX_RELAY_ID: childRelayId,
        TXBOX_BATCH_SIZE: String(N),
        TXBOX_LEASE_MS: String(LEASE_MS),
        TXBOX_PUBLISH_TIMEOUT_MS: '2000',
        TXBOX_POLL_INTERVAL_MS: '200',
      });
      cleanup.defer(() => child.kill('SIGKILL'));
      await child.waitReady(WAIT_MS);

      // Warm-up: one message the child publishes end to end, so its connection, confirm
      // channel and exchange declaration are all in place before the crash batch.
      await writeCommitted(pool, writer, [{ n: -1, key: null }], 1, committed);
      await waitForIds(
        collector,
        committed.map((m) => m.id),
        WAIT_MS,
      );
      await waitUntil('the warm-up message to be deleted', async () => (await outboxCount(pool, schema)) === 0, {
        timeoutMs: WAIT_MS,
      });

      // Park the child at its next claim, write the backlog, then let it claim everything at once.
      const gate = await holdClaimLock(pool, outboxSql.claimLockSql(outboxTables(schema)));
      try {
        // Something due, so the child's next poll goes past its probe to the claim lock. That
        // claim's transaction began before the backlog was written, so it sees the backlog as
        // not yet due (available_at > its now()) and takes this message alone (claimed=1); the
        // child claims the whole backlog in its next batch.
        await writeCommitted(pool, writer, [{ n: -2, key: null }], 1, committed);
        await waitUntil('the child relay to wait at its claim', () => claimsWaiting(pool, schema), {
          timeoutMs: WAIT_MS,
        });
        await writeBacklog(pool, writer, committed);
        if (mode === 'stalled') proxy.stall();
      } finally {
        await gate.release();
      }

      const leased = await waitUntil(
        'the child to lease the backlog',
        async () => {
          const n = await leasedBy(pool, schema, childRelayId);
          return n >= N ? n : 0;
        },
        {
          timeoutMs: WAIT_MS,
          intervalMs: 2,
        },
      );
      if (mode === 'stalled') {
        // Give it time to write the batch into the stalled socket; no confirm can come back.
        await sleep(300);
      } else {
        // Kill as soon as the first messages of the batch reach the broker (some confirms are
        // on their way or done; the batch is not settled yet, most likely).
        await waitUntil('the child to start publishing the backlog', async () => collector.messages.length > 2, {
          timeoutMs: WAIT_MS,
          intervalMs: 1,
        });
      }
      const arrivedBeforeKill = Math.max(0, collector.messages.length - 2); // less the warm-up and parking messages
      await child.kill('SIGKILL');
      // The child prints a BATCH line once a batch is settled (confirmed and marked); all of its
      // output has been read once kill() resolves. Only the warm-up batch (claimed=1) may be there.
      const settledBatchesAtKill = child.stdout.filter(
        (line) => line.startsWith('BATCH ') && !line.includes('claimed=1 '),
      );
      const { rows: killedRows } = await pool.query<{ id: string }>(
        `SELECT id FROM "${schema}".outbox WHERE lease_owner = $1`,
        [childRelayId],
      );
      const killedBatch = new Set(killedRows.map((r) => r.id));
      if (mode === 'publishing') {
        // The window this test names: publishing had begun (messages reached the broker), and the
        // batch was not settled (no BATCH line, rows still leased). A kill after the batch settled
        // would test nothing, so it fails instead of passing.
        expect(arrivedBeforeKill, 'messages of the batch on the broker before the kill').toBeGreaterThan(0);
        expect(settledBatchesAtKill, 'the batch had already settled when the child was killed').toEqual([]);
        expect(killedBatch.size, 'rows of the batch still leased by the killed child').toBeGreaterThan(0);
      }
      proxy.resume();
      proxy.restore();

      const rescuer = createRelay({
        database: databaseUrl,
        amqp: amqpUrl,
        schema,
        relayId: uniqueName('rescuer'),
        batchSize: 100,
        leaseMs: LEASE_MS,
        publishTimeoutMs: 2000,
        pollIntervalMs: 100,
        retention: { intervalMs: 0 },
      });
      cleanup.defer(() => rescuer.stop());
      await rescuer.start();

      const allIds = committed.map((m) => m.id);
      await waitForIds(collector, allIds, WAIT_MS + LEASE_MS);
      await waitUntil('the outbox to drain', async () => (await outboxCount(pool, schema)) === 0, {
        timeoutMs: WAIT_MS,
      });
      await rescuer.stop();
      // Every delivery still on its way lands before duplicates are counted.
      await collector.flush();

      const arrivals = arrivalsOf(collector.messages);
      const arrived = new Set(arrivals.map((a) => a.id));
      const lost = allIds.filter((id) => !arrived.has(id));
      const duplicates = duplicateCounts(arrivals);
      const duplicatesOutsideKilledBatch = [...duplicates.keys()].filter((id) => !killedBatch.has(id));
      console.log(
        `[relay-sigkill/${mode}] written=${allIds.length} leasedByChild=${leased} stillLeasedAtKill=${killedBatch.size} ` +
          `arrivedBeforeKill=${arrivedBeforeKill} deliveries=${arrivals.length} lost=${lost.length} ` +
          `duplicatedIds=${duplicates.size} duplicatesOutsideKilledBatch=${duplicatesOutsideKilledBatch.length}`,
      );

      expect(leased).toBeGreaterThan(0);
      expect(lost).toEqual([]);
      expect(duplicatesOutsideKilledBatch).toEqual([]);
      expect(perKeyOrderViolation(committed, arrivals)).toBeNull();
      expect(await outboxCount(pool, schema)).toBe(0);
      if (mode === 'stalled') {
        // Nothing of the claimed batch could be confirmed, so all of it was still leased.
        expect(killedBatch.size).toBe(leased);
      }
    }, 90_000);
  });
}

killedRelayScenario('relay SIGKILLed with its broker connection stalled', 'stalled');
killedRelayScenario('relay SIGKILLed while publishing', 'publishing');
