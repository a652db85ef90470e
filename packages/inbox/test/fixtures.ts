import { randomUUID } from 'node:crypto';
import { defineMessage, type Envelope, encodeAmqpMessage } from '@txbox/core';
import { createConsumer, type InboxConsumer, type InboxConsumerOptions } from '@txbox/inbox';
import type { Channel } from 'amqplib';
import type pg from 'pg';
import { afterAll } from 'vitest';
import { z } from 'zod';
import { deleteTopology, uniqueName } from '../../../test-support/index.js';

export const PaymentRequested = defineMessage({
  type: 'billing.payment-requested',
  version: 1,
  schema: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
});

/**
 * Publishes a message in the txbox wire format, as a relay would (same id = a redelivery); with
 * `routingKey` (default: the type), straight into a queue through the default exchange ('').
 */
export function publishEnvelope(
  channel: Channel,
  exchange: string,
  input: Partial<Envelope> & { type: string; payload: unknown },
  routingKey: string = input.type,
): string {
  const envelope: Envelope = {
    id: input.id ?? randomUUID(),
    type: input.type,
    version: input.version ?? 1,
    occurredAt: input.occurredAt ?? new Date(),
    key: input.key ?? null,
    correlationId: input.correlationId ?? null,
    causationId: input.causationId ?? null,
    traceparent: input.traceparent ?? null,
    tracestate: input.tracestate ?? null,
    headers: input.headers ?? {},
    payload: input.payload,
  };
  const { content, properties } = encodeAmqpMessage(envelope);
  channel.publish(exchange, routingKey, content, properties);
  return envelope.id;
}

/** The handlers' effect table: no unique constraint, so a double application shows as two rows. */
export async function createEffectsTable(pool: pg.Pool, schema: string): Promise<string> {
  const table = `"${schema}".effects`;
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${table} (message_id text NOT NULL, info text, at timestamptz DEFAULT clock_timestamp())`,
  );
  return table;
}

export async function effectCounts(pool: pg.Pool, table: string): Promise<Map<string, number>> {
  const { rows } = await pool.query(`SELECT message_id, count(*)::int AS n FROM ${table} GROUP BY message_id`);
  return new Map(rows.map((r) => [r.message_id as string, r.n as number]));
}

export async function queueDepth(channel: Channel, queue: string): Promise<number> {
  return (await channel.checkQueue(queue)).messageCount;
}

/** Reads every message currently in a queue (acking them), e.g. a dead-letter queue. */
export async function drainQueue(channel: Channel, queue: string) {
  const messages = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (!message) return messages;
    messages.push(message);
  }
}

/**
 * A factory for the consumers of one test file: each gets a fresh group and the file's defaults,
 * and every consumer created is stopped and its queues deleted after the file (the broker is
 * shared). Call at the top level: `const consumer = useConsumers(() => ({ database, schema, … }))`.
 */
export function useConsumers(
  amqp: { readonly channel: Channel },
  defaults: () => Omit<InboxConsumerOptions, 'group'> & { group?: string },
): (options?: Partial<InboxConsumerOptions>) => InboxConsumer {
  const created: InboxConsumer[] = [];
  afterAll(async () => {
    for (const c of created) {
      await c.stop();
      await deleteTopology(amqp.channel, c.topology);
    }
  });
  return (options = {}) => {
    const base = defaults();
    const c = createConsumer({ ...base, group: uniqueName(base.group ?? 'group'), ...options });
    created.push(c);
    return c;
  };
}
