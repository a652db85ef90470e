// Runs the wire-format conformance cases (conformance/wire-format/cases.json) against a real
// consumer group: every case is published as raw AMQP, exactly as a producer in another language
// would, and must end as the case says — applied once with the listed envelope and payload, or
// dead-lettered once with the listed reason and error, never applied.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineMessage } from '@txbox/core';
import { createConsumer, defineHandler, INBOX_HEADERS, type InboxConsumer, migrateInbox } from '@txbox/inbox';
import type { GetMessage, Options } from 'amqplib';
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
import { drainQueue, queueDepth } from './fixtures.js';

interface ConformanceCase {
  name: string;
  properties: Options.Publish & { messageId?: string; type?: string };
  routingKey?: string;
  body: { json?: Record<string, unknown>; utf8?: string; base64?: string; padToBytes?: number };
  publishTimes?: number;
  expect:
    | { outcome: 'applied'; envelope?: Record<string, unknown>; payload?: unknown }
    | { outcome: 'dead-lettered'; reason: string; error?: string };
}

const suite = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../../conformance/wire-format/cases.json'), 'utf8'),
) as { bindings: string[]; maxMessageBytes: number; cases: ConformanceCase[] };

const ItemV1 = defineMessage({
  type: 'conformance.item',
  version: 1,
  schema: z.object({ sku: z.string(), qty: z.number().int().positive() }),
});
const Item = defineMessage({
  type: 'conformance.item',
  version: 2,
  schema: z.object({ sku: z.string(), qty: z.number().int().positive(), unit: z.string() }),
  upcast: { from: ItemV1, transform: (v1) => ({ ...v1, unit: 'piece' }) },
});

const { schema, pool, databaseUrl } = useTestSchema('conformance');
const amqp = useAmqp();
const exchange = uniqueName('conformance_events');
const group = uniqueName('conformance');
let consumer: InboxConsumer;
const publishedAt = new Map<number, number>();

function body(spec: ConformanceCase['body']): Buffer {
  if (spec.base64 !== undefined) return Buffer.from(spec.base64, 'base64');
  if (spec.utf8 !== undefined) return Buffer.from(spec.utf8, 'utf8');
  const json = { ...spec.json };
  if (spec.padToBytes) json.pad = 'x'.repeat(spec.padToBytes);
  return Buffer.from(JSON.stringify(json), 'utf8');
}

/** Header values as amqplib takes them; `{ "!": "bytes", "base64": … }` becomes a byte array (`x`). */
function headerValues(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => {
      const typed = value as { '!'?: string; base64?: string };
      return [name, typed?.['!'] === 'bytes' ? Buffer.from(typed.base64 ?? '', 'base64') : value];
    }),
  );
}

beforeAll(async () => {
  await migrateInbox({ database: databaseUrl, schema });
  await pool.query(`CREATE TABLE "${schema}".applied (case_index int, envelope jsonb, payload jsonb)`);
  consumer = createConsumer({
    group,
    database: databaseUrl,
    amqp: testAmqpUrl(),
    schema,
    exchange,
    bindings: suite.bindings,
    handlers: [
      defineHandler(Item, async (payload, ctx) => {
        const { payload: _raw, ...envelope } = ctx.envelope;
        await ctx.client.query(`INSERT INTO "${schema}".applied VALUES ($1, $2, $3)`, [
          Number(ctx.envelope.headers['conformance-case'] ?? -1),
          JSON.stringify(envelope),
          JSON.stringify(payload),
        ]);
      }),
    ],
  });
  await consumer.start();
  await waitUntil('consumer running', () => consumer.isRunning);
  // The case index travels in app-id: a property the consumer ignores and the dead-letter copy keeps.
  // Applied cases also need it inside the handler, where only headers are visible, so it is a user
  // header there; the expected headers below leave it out.
  for (const [index, testCase] of suite.cases.entries()) {
    const { headers = {}, ...properties } = testCase.properties;
    for (let i = 0; i < (testCase.publishTimes ?? 1); i++) {
      publishedAt.set(index, Date.now());
      amqp.channel.publish(exchange, testCase.routingKey ?? testCase.properties.type ?? '', body(testCase.body), {
        ...properties,
        appId: String(index),
        headers: { ...headerValues(headers), 'conformance-case': String(index) },
      });
    }
  }
});

afterAll(async () => {
  await consumer?.stop();
  if (consumer) await deleteTopology(amqp.channel, consumer.topology);
});

const applied = suite.cases.flatMap((c, index) => (c.expect.outcome === 'applied' ? [{ c, index }] : []));
const deadLettered = suite.cases.flatMap((c, index) => (c.expect.outcome === 'dead-lettered' ? [{ c, index }] : []));

describe('wire-format conformance (conformance/wire-format/cases.json)', () => {
  let rows: { case_index: number; envelope: Record<string, unknown>; payload: unknown }[] = [];
  let dlq: GetMessage[] = [];

  beforeAll(async () => {
    const dlqDepth = () => queueDepth(amqp.channel, consumer.topology.deadLetterQueue);
    const appliedCount = async () => (await pool.query(`SELECT count(*)::int AS n FROM "${schema}".applied`)).rows[0].n;
    await waitUntil(
      `${applied.length} cases applied and ${deadLettered.length} dead-lettered`,
      async () => (await appliedCount()) >= applied.length && (await dlqDepth()) >= deadLettered.length,
      { timeoutMs: 60_000 },
    );
    // Every case has ended; the consumer's queue is empty, so no second application can follow.
    await waitUntil('queue empty', async () => (await queueDepth(amqp.channel, consumer.topology.queue)) === 0);
    await waitUntil('the redelivered case skipped', async () => {
      const stats = await consumer.stats();
      return stats.processed + stats.duplicatesSkipped >= applied.length + 1;
    });
    rows = (await pool.query(`SELECT case_index, envelope, payload FROM "${schema}".applied`)).rows;
    dlq = await drainQueue(amqp.channel, consumer.topology.deadLetterQueue);
  }, 120_000);

  it('applies no case twice and dead-letters nothing it applied', () => {
    const indexes = rows.map((r) => r.case_index).sort((a, b) => a - b);
    expect(indexes).toEqual(applied.map(({ index }) => index));
    expect(dlq.map((m) => Number(m.properties.appId)).sort((a, b) => a - b)).toEqual(
      deadLettered.map(({ index }) => index),
    );
  });

  it.each(applied)('applied: $c.name', ({ c, index }) => {
    if (c.expect.outcome !== 'applied') throw new Error('unreachable');
    const row = rows.find((r) => r.case_index === index);
    if (!row) throw new Error(`case ${index} was not applied`);
    const { headers, occurredAt, ...envelope } = row.envelope as {
      headers: Record<string, string>;
      occurredAt: string;
    };
    const { 'conformance-case': _index, ...userHeaders } = headers;
    const seen = { ...envelope, headers: userHeaders, occurredAt };
    const { occurredAt: expectedOccurredAt, ...expected } = c.expect.envelope ?? {};
    expect(seen).toMatchObject(expected);
    if (expectedOccurredAt === 'receive time') {
      const at = Date.parse(occurredAt);
      expect(at).toBeGreaterThanOrEqual((publishedAt.get(index) ?? 0) - 1000);
      expect(at).toBeLessThanOrEqual(Date.now());
    } else if (expectedOccurredAt !== undefined) {
      expect(occurredAt).toBe(expectedOccurredAt);
    }
    if (c.expect.payload !== undefined) expect(row.payload).toEqual(c.expect.payload);
  });

  it.each(deadLettered)('dead-lettered: $c.name', ({ c, index }) => {
    if (c.expect.outcome !== 'dead-lettered') throw new Error('unreachable');
    const copies = dlq.filter((m) => Number(m.properties.appId) === index);
    expect(copies).toHaveLength(1);
    const headers = copies[0]?.properties.headers ?? {};
    expect(headers[INBOX_HEADERS.reason]).toBe(c.expect.reason);
    expect(headers[INBOX_HEADERS.group]).toBe(group);
    if (c.expect.error) expect(String(headers[INBOX_HEADERS.error])).toContain(c.expect.error);
    // Dead-lettered at once: its first attempt is its last.
    expect(headers[INBOX_HEADERS.attempt]).toBe(1);
    expect(copies[0]?.content.equals(body(c.body)), 'the body is kept byte for byte').toBe(true);
  });
});
