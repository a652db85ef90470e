// The inbox admin API: one group's dead-letter queue (list, show, replay to that group only,
// purge), forgetting a processed id, and the status of groups — against the real broker.
import { createInboxAdmin, defineHandler, type InboxAdmin, migrateInbox, NonRetryableError } from '@txbox/inbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { PaymentRequested, publishEnvelope, queueDepth, useConsumers } from './fixtures.js';

const { schema, databaseUrl } = useTestSchema('inbox_admin');
const amqp = useAmqp();
const exchange = uniqueName('admin_events');
/** Orders whose payment group A refuses while "broken"; group B applies everything. */
const refused = new Set<string>(['refused-1', 'refused-2']);
let broken = true;
const runs = { a: [] as string[], b: [] as string[] };
const consumer = useConsumers(amqp, () => ({
  database: databaseUrl,
  amqp: testAmqpUrl(),
  schema,
  exchange,
}));
let admin: InboxAdmin;

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  admin = createInboxAdmin({ database: databaseUrl, amqp: testAmqpUrl(), schema });
});
afterAll(async () => {
  await admin?.close();
});

function pay(orderId: string): string {
  return publishEnvelope(amqp.channel, exchange, { type: PaymentRequested.type, payload: { orderId, amountCents: 5 } });
}

describe('inbox admin', () => {
  it('replays dead letters to their own group only, with their ids; the other group bound to the exchange is not re-run', async () => {
    const a = consumer({
      group: 'admin_a',
      handlers: [
        defineHandler(PaymentRequested, async (payload, ctx) => {
          runs.a.push(ctx.envelope.id);
          if (broken && refused.has(payload.orderId)) throw new NonRetryableError('card declined');
        }),
      ],
    });
    const b = consumer({
      group: 'admin_b',
      handlers: [
        defineHandler(PaymentRequested, async (_payload, ctx) => {
          runs.b.push(ctx.envelope.id);
        }),
      ],
    });
    await a.start();
    await b.start();
    const ok = pay('fine');
    const first = pay('refused-1');
    const second = pay('refused-2');
    await waitUntil('A to dead-letter two and B to apply three', async () => {
      const [sa, sb] = [await a.stats(), await b.stats()];
      return sa.deadLettered === 2 && sa.processed === 1 && sb.processed === 3;
    });

    const listed = await admin.deadLetters.list(a.group);
    expect(listed.map((d) => d.id).sort()).toEqual([first, second].sort());
    expect(listed[0]).toMatchObject({ type: PaymentRequested.type, reason: 'not retryable', group: a.group });
    expect(listed[0]?.error).toMatch(/card declined/);
    expect(listed[0]?.deadLetteredAt).toBeInstanceOf(Date);
    // Listing leaves them in the queue.
    await waitUntil(
      'the listed messages to be back',
      async () => (await queueDepth(amqp.channel, a.topology.deadLetterQueue)) === 2,
    );
    expect(await admin.deadLetters.show(a.group, first)).toMatchObject({
      id: first,
      payload: { orderId: 'refused-1' },
    });
    expect(await admin.deadLetters.show(a.group, ok)).toBeUndefined();
    expect(await admin.deadLetters.list(a.group, { type: 'other.type' })).toEqual([]);
    expect(await admin.deadLetters.list(a.group, { since: new Date(Date.now() + 60_000) })).toEqual([]);

    broken = false;
    expect(await admin.deadLetters.replay(a.group, [first])).toEqual({ replayed: [first], failed: [] });
    await waitUntil('A to apply the replayed message', async () => (await a.stats()).processed === 2);
    expect(runs.a.filter((id) => id === first)).toHaveLength(2);
    // B saw each message once: nothing replayed reached its queue.
    expect((await b.stats()).processed).toBe(3);
    expect((await b.stats()).duplicatesSkipped).toBe(0);
    expect(runs.b.sort()).toEqual([ok, first, second].sort());
    expect(await queueDepth(amqp.channel, b.topology.queue)).toBe(0);
    expect((await admin.deadLetters.list(a.group)).map((d) => d.id)).toEqual([second]);

    const status = await admin.status([a.group, b.group]);
    expect(status.migrations).toMatchObject({ current: 1, latest: 1 });
    expect(a.topology.delayQueues.length).toBeGreaterThan(0);
    expect(status.groups).toEqual([
      {
        group: a.group,
        queue: { name: a.group, messages: 0, consumers: 1 },
        deadLetterQueue: { name: `${a.group}.dead-letter`, messages: 1 },
        // The delay queues the consumer declared, found by the admin from the default retry schedule.
        retryQueues: a.topology.delayQueues.map((q) => ({ ...q, messages: 0 })),
        records: 2,
        partitions: null,
      },
      {
        group: b.group,
        queue: { name: b.group, messages: 0, consumers: 1 },
        deadLetterQueue: { name: `${b.group}.dead-letter`, messages: 0 },
        retryQueues: b.topology.delayQueues.map((q) => ({ ...q, messages: 0 })),
        records: 3,
        partitions: null,
      },
    ]);

    expect(await admin.deadLetters.purge(a.group, { ids: [second] })).toBe(1);
    expect(await queueDepth(amqp.channel, a.topology.deadLetterQueue)).toBe(0);

    // Forgetting the id makes the next delivery run the handler again, in that group only.
    expect(await admin.forget(a.group, ok)).toBe(true);
    expect(await admin.forget(a.group, ok)).toBe(false);
    publishEnvelope(amqp.channel, exchange, {
      id: ok,
      type: PaymentRequested.type,
      payload: { orderId: 'fine', amountCents: 5 },
    });
    await waitUntil('A to run the forgotten id again and B to skip it', async () => {
      return (await a.stats()).processed === 3 && (await b.stats()).duplicatesSkipped === 1;
    });
  });

  it('a partitioned group: status lists its partition queues, replay goes back through the partition exchange', async () => {
    let refuse = true;
    const handled: string[] = [];
    const p = consumer({
      group: 'admin_parts',
      partitions: { count: 3, rebalanceIntervalMs: 100, leaseMs: 2000 },
      handlers: [
        defineHandler(PaymentRequested, async (_payload, ctx) => {
          if (refuse) throw new NonRetryableError('refused');
          handled.push(ctx.envelope.id);
        }),
      ],
    });
    await p.start();
    await waitUntil('all partitions owned', async () => (await p.stats()).partitions?.owned.length === 3);
    const id = pay('partitioned-1');
    await waitUntil('dead-lettered', async () => (await p.stats()).deadLettered === 1);
    const status = (await admin.status([p.group])).groups[0];
    expect(status?.queue).toEqual({ name: `${p.group}.p0…p2`, messages: 0, consumers: 3 });
    expect(status?.partitions).toEqual([0, 1, 2].map((i) => ({ name: `${p.group}.p${i}`, messages: 0, consumers: 1 })));
    refuse = false;
    expect(await admin.deadLetters.replay(p.group, [id])).toEqual({ replayed: [id], failed: [] });
    await waitUntil('the replayed message applied', () => handled.includes(id));
  });

  it('refuses bad input with typed errors before touching the broker', async () => {
    await expect(admin.deadLetters.list('amq.bad')).rejects.toMatchObject({ code: 'IDENTIFIER_INVALID' });
    await expect(admin.deadLetters.list('g', { limit: 0 })).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
    await expect(admin.deadLetters.replay('g', {})).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
    await expect(admin.deadLetters.purge('g', { ids: [''] })).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
    await expect(admin.forget('g', 'x'.repeat(300))).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
    await expect(admin.deadLetters.list(uniqueName('nobody'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const noBroker = createInboxAdmin({ database: databaseUrl, schema });
    await expect(noBroker.deadLetters.list('g')).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
    await noBroker.close();
  });
});
