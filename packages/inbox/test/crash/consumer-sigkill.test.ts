import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConsumer, defineHandler, type InboxConsumer, migrateInbox } from '@txbox/inbox';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  runChild,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useCleanup,
  useTestSchema,
  waitUntil,
} from '../../../../test-support/index.js';
import { startTcpProxy } from '../../../../test-support/tcp-proxy.mjs';
import {
  CrashApplied,
  createEffectsTable,
  effectsTable,
  INSERT_EFFECT,
  inboxRecords,
  openPublisher,
  publishRaw,
} from './inbox-crash-support.js';

const CHILD = fileURLToPath(new URL('./consumer-child.mjs', import.meta.url));
const WAIT_MS = 45_000;

const db = useTestSchema('inbox_sigkill');
const cleanup = useCleanup();
const broker = useAmqp();

beforeAll(async () => {
  await migrateInbox({ database: db.databaseUrl, schema: db.schema });
  await createEffectsTable(db.pool, db.schema);
});

/**
 * The consumer that takes over after the crash (in this process, direct URL, same group and
 * settings as the child). Created up front so its topology names are known for cleanup.
 */
function survivor(group: string, exchange: string, handled: string[]): InboxConsumer {
  const consumer = createConsumer({
    group,
    database: db.databaseUrl,
    amqp: testAmqpUrl(),
    schema: db.schema,
    exchange,
    concurrency: 1,
    prefetch: 1,
    retention: { intervalMs: 0 },
    handlers: [
      defineHandler(CrashApplied, async (_payload, ctx) => {
        handled.push(`${ctx.envelope.id}@${ctx.attempt}`);
        await ctx.client.query(INSERT_EFFECT(effectsTable(db.schema)), [ctx.envelope.id, 'survivor']);
      }),
    ],
  });
  cleanup.defer(() => deleteTopology(broker.channel, consumer.topology));
  cleanup.defer(() => consumer.stop());
  return consumer;
}

async function effectsOf(id: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ applied_by: string }>(
    `SELECT applied_by FROM ${effectsTable(db.schema)} WHERE message_id = $1 ORDER BY at`,
    [id],
  );
  return rows.map((r) => r.applied_by);
}

async function queueDepth(queue: string): Promise<number> {
  return (await broker.channel.checkQueue(queue)).messageCount;
}

describe('inbox consumer killed with SIGKILL', () => {
  it('a consumer killed with SIGKILL after commit but before ack: the redelivery is skipped after restart', async () => {
    const group = uniqueName('inbox_kill_g');
    const exchange = uniqueName('inbox_kill_x');
    const handled: string[] = [];
    const second = survivor(group, exchange, handled);

    const amqpUrl = testAmqpUrl();
    const target = new URL(amqpUrl);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5672));
    cleanup.defer(() => proxy.close());

    // The handler returns (and the transaction commits) only once this file exists: the test
    // creates it after stalling the proxy, so the ack that follows the commit cannot get through.
    const gate = join(tmpdir(), `${uniqueName('inbox_gate')}.flag`);
    cleanup.defer(() => rm(gate, { force: true }));

    const child = runChild(CHILD, [], {
      TXBOX_DATABASE_URL: db.databaseUrl,
      TXBOX_AMQP_URL: proxy.url(amqpUrl),
      TXBOX_SCHEMA: db.schema,
      TXBOX_EXCHANGE: exchange,
      TXBOX_GROUP: group,
      TXBOX_MODE: 'commit',
      TXBOX_SLEEP_MS: '300',
      TXBOX_GATE_FILE: gate,
    });
    cleanup.defer(() => child.kill('SIGKILL'));
    await child.waitReady(WAIT_MS);

    const publisher = await openPublisher(broker.connection);
    cleanup.defer(() => publisher.close());
    const id = randomUUID();
    publishRaw(publisher, exchange, id, 1);
    await publisher.waitForConfirms();

    await child.waitForLine(`COMMITTING ${id}`, WAIT_MS);
    proxy.stall();
    await writeFile(gate, 'go');

    // The commit is visible from another connection: the handler's transaction is durable.
    await waitUntil('the child to commit its effect', async () => (await effectsOf(id)).length === 1, {
      timeoutMs: WAIT_MS,
    });
    // ...and the inbox record committed with it.
    expect(await inboxRecords(db.pool, db.schema, group, id)).toBe(1);

    await child.kill('SIGKILL');
    // The dead process's sockets are gone; release the stalled proxy's side too so the broker
    // sees the connection close now (rather than after a missed heartbeat) and requeues.
    await proxy.close();

    // The ack never reached RabbitMQ: the delivery is back in the group's queue.
    await waitUntil('the unacknowledged delivery to return to the queue', async () => (await queueDepth(group)) === 1, {
      timeoutMs: WAIT_MS,
    });

    await second.start();
    await waitUntil(
      'the restarted consumer to settle the redelivery',
      async () => {
        const s = await second.stats();
        return s.processed + s.duplicatesSkipped >= 1;
      },
      { timeoutMs: WAIT_MS },
    );
    const stats = await second.stats();
    expect(stats).toMatchObject({ processed: 0, duplicatesSkipped: 1, retried: 0, deadLettered: 0 });
    expect(handled).toEqual([]);
    expect(await effectsOf(id)).toEqual(['child-commit']);
    expect(await inboxRecords(db.pool, db.schema, group, id)).toBe(1);
    await waitUntil('the redelivery to be acknowledged', async () => (await queueDepth(group)) === 0, {
      timeoutMs: WAIT_MS,
    });
  });

  it('killed before commit: the handler runs again and the effect exists once', async () => {
    const group = uniqueName('inbox_kill_g');
    const exchange = uniqueName('inbox_kill_x');
    const handled: string[] = [];
    const second = survivor(group, exchange, handled);

    const child = runChild(CHILD, [], {
      TXBOX_DATABASE_URL: db.databaseUrl,
      TXBOX_AMQP_URL: testAmqpUrl(),
      TXBOX_SCHEMA: db.schema,
      TXBOX_EXCHANGE: exchange,
      TXBOX_GROUP: group,
      TXBOX_MODE: 'hang',
    });
    cleanup.defer(() => child.kill('SIGKILL'));
    await child.waitReady(WAIT_MS);

    const publisher = await openPublisher(broker.connection);
    cleanup.defer(() => publisher.close());
    const id = randomUUID();
    publishRaw(publisher, exchange, id, 2);
    await publisher.waitForConfirms();

    // The effect row and the inbox record are written but not committed when the child dies.
    await child.waitForLine(`IN_HANDLER ${id}`, WAIT_MS);
    await child.kill('SIGKILL');

    await second.start();
    await waitUntil(
      'the restarted consumer to run the handler',
      async () => {
        const s = await second.stats();
        return s.processed + s.duplicatesSkipped >= 1;
      },
      { timeoutMs: WAIT_MS },
    );
    const stats = await second.stats();
    expect(stats).toMatchObject({ processed: 1, duplicatesSkipped: 0, retried: 0, deadLettered: 0 });
    // A broker redelivery is still attempt 1 (attempts count passes through the delay queues).
    expect(handled).toEqual([`${id}@1`]);
    expect(await effectsOf(id)).toEqual(['survivor']);
    expect(await inboxRecords(db.pool, db.schema, group, id)).toBe(1);
    await waitUntil('the delivery to be acknowledged', async () => (await queueDepth(group)) === 0, {
      timeoutMs: WAIT_MS,
    });
  });
});
