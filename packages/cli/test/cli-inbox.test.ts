// `txbox inbox dead-letters list|show|replay|purge` and `txbox inbox forget`, spawned as the real
// binary: replay reaches the named group only, while another group bound to the same exchange
// stays untouched.
import { randomUUID } from 'node:crypto';
import { defineMessage, encodeAmqpMessage } from '@txbox/core';
import { createConsumer, defineHandler, type InboxConsumer, migrateInbox, NonRetryableError } from '@txbox/inbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  deleteTopology,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import { txbox } from './run-txbox.js';

const Shipment = defineMessage({
  type: 'shipping.shipment-requested',
  version: 1,
  schema: z.object({ orderId: z.string() }),
});

const { schema, databaseUrl } = useTestSchema('cli_inbox');
const amqp = useAmqp();
const exchange = uniqueName('cli_events');
const env = { DATABASE_URL: databaseUrl, AMQP_URL: testAmqpUrl() };
/** Group "labels" refuses order "bad-*" while this is true; group "audit" applies everything. */
let labelsBroken = true;
const applied = { labels: [] as string[], audit: [] as string[] };
let labels: InboxConsumer;
let audit: InboxConsumer;

function publish(orderId: string, id: string = randomUUID()): string {
  const { content, properties } = encodeAmqpMessage({
    id,
    type: Shipment.type,
    version: 1,
    occurredAt: new Date(),
    key: `order:${orderId}`,
    correlationId: null,
    causationId: null,
    traceparent: null,
    tracestate: null,
    headers: { tenant: 'acme' },
    payload: { orderId },
  });
  amqp.channel.publish(exchange, Shipment.type, content, properties);
  return id;
}

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  const common = { database: databaseUrl, amqp: testAmqpUrl(), schema, exchange };
  labels = createConsumer({
    ...common,
    group: uniqueName('labels'),
    handlers: [
      defineHandler(Shipment, async (payload, ctx) => {
        if (labelsBroken && payload.orderId.startsWith('bad')) throw new NonRetryableError('label printer offline');
        applied.labels.push(ctx.envelope.id);
      }),
    ],
  });
  audit = createConsumer({
    ...common,
    group: uniqueName('audit'),
    handlers: [
      defineHandler(Shipment, async (_payload, ctx) => {
        applied.audit.push(ctx.envelope.id);
      }),
    ],
  });
  await labels.start();
  await audit.start();
});
afterAll(async () => {
  for (const c of [labels, audit]) {
    await c?.stop();
    if (c) await deleteTopology(amqp.channel, c.topology);
  }
});

describe('txbox inbox', () => {
  it('lists, shows, replays to one group only, purges and forgets', async () => {
    const good = publish('good-1');
    const bad1 = publish('bad-1');
    const bad2 = publish('bad-2');
    const bad3 = publish('bad-3');
    await waitUntil('labels to dead-letter three, audit to apply four', async () => {
      return (await labels.stats()).deadLettered === 3 && (await audit.stats()).processed === 4;
    });
    const group = ['--group', labels.group];

    const list = await txbox(['inbox', 'dead-letters', 'list', ...group, '--json'], env);
    expect(list.code).toBe(0);
    const letters = list.json<{ id: string; reason: string; headers: Record<string, string> }[]>();
    expect(letters.map((d) => d.id).sort()).toEqual([bad1, bad2, bad3].sort());
    expect(letters[0]).toMatchObject({ reason: 'not retryable', headers: { tenant: 'acme' } });
    const text = await txbox(['inbox', 'dead-letters', 'list', ...group, '--limit', '1'], env);
    expect(text.stdout.split('\n')).toHaveLength(2);
    expect(text.stdout).toContain('label printer offline');

    const shown = await txbox(['inbox', 'dead-letters', 'show', ...group, bad2, '--json'], env);
    expect(shown.code).toBe(0);
    expect(shown.json()).toMatchObject({ id: bad2, key: 'order:bad-2', payload: { orderId: 'bad-2' } });
    expect((await txbox(['inbox', 'dead-letters', 'show', ...group, good], env)).code).toBe(4);

    // The printer is back: replay two of the three to "labels" only.
    labelsBroken = false;
    const refused = await txbox(['inbox', 'dead-letters', 'replay', ...group], env);
    expect(refused.code).toBe(2);
    const replay = await txbox(
      ['inbox', 'dead-letters', 'replay', ...group, '--id', bad1, '--id', bad2, '--json'],
      env,
    );
    expect(replay.code).toBe(0);
    expect(replay.json<{ replayed: string[]; failed: string[] }>()).toEqual({
      replayed: expect.arrayContaining([bad1, bad2]),
      failed: [],
    });
    await waitUntil('labels to apply the two replayed messages', () => applied.labels.length === 3);
    expect(applied.labels.sort()).toEqual([good, bad1, bad2].sort());
    // "audit" is bound to the same exchange and saw each message exactly once: no replayed copy reached it.
    expect(applied.audit.sort()).toEqual([good, bad1, bad2, bad3].sort());
    expect(await audit.stats()).toMatchObject({ processed: 4, duplicatesSkipped: 0 });
    expect((await amqp.channel.checkQueue(audit.topology.queue)).messageCount).toBe(0);

    const status = await txbox(
      ['status', '--component', 'inbox', '--schema', schema, ...group, '--group', audit.group, '--json'],
      env,
    );
    expect(status.code).toBe(0);
    expect(status.json()).toMatchObject({
      inbox: {
        groups: [
          { group: labels.group, deadLetterQueue: { messages: 1 }, records: 3 },
          { group: audit.group, deadLetterQueue: { messages: 0 }, records: 4 },
        ],
      },
    });

    const purge = await txbox(['inbox', 'dead-letters', 'purge', ...group, '--type', Shipment.type, '--json'], env);
    expect(purge.json()).toEqual({ purged: 1 });
    expect((await amqp.channel.checkQueue(labels.topology.deadLetterQueue)).messageCount).toBe(0);

    // Forget makes the next delivery of the id run the handler again, in that group only.
    const forget = await txbox(['inbox', 'forget', ...group, '--id', good, '--schema', schema, '--json'], env);
    expect(forget.code).toBe(0);
    expect(forget.json()).toEqual({ forgotten: true });
    expect((await txbox(['inbox', 'forget', ...group, '--id', good, '--schema', schema], env)).code).toBe(4);
    publish('good-1', good);
    await waitUntil(
      'labels to run the forgotten id again',
      () => applied.labels.filter((id) => id === good).length === 2,
    );
    await waitUntil('audit to skip it as a duplicate', async () => (await audit.stats()).duplicatesSkipped === 1);
    expect(applied.audit.filter((id) => id === good)).toHaveLength(1);
  });

  it('validates the group and names a missing queue (exit code 4)', async () => {
    expect((await txbox(['inbox', 'dead-letters', 'list'], env)).code).toBe(2);
    expect((await txbox(['inbox', 'dead-letters', 'list', '--group', 'amq.nope'], env)).code).toBe(2);
    expect((await txbox(['inbox', 'dead-letters', 'list', '--group', labels.group, '--limit', '0'], env)).code).toBe(2);
    expect((await txbox(['inbox', 'forget', '--group', labels.group], env)).code).toBe(2);
    const missing = await txbox(['inbox', 'dead-letters', 'list', '--group', uniqueName('nobody')], env);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/dead-letter/);
  });
});
