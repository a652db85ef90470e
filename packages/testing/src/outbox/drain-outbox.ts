// Publishes what is committed in the outbox, as the relay in production does (claim, publish
// with confirms, mark), and says what went out: a test asserts on the returned messages instead
// of binding a queue and waiting.
import type { AmqpConnection, DatabaseInput } from '@txbox/core';
import { queryPool, resolveAmqpConnection, resolvePool } from '@txbox/core/internal';
import { createRelay, type OutboxRelay } from '@txbox/outbox';
import { outboxTables } from '@txbox/outbox/internal';

export interface DrainOutboxOptions {
  /** The database holding the outbox: a connection string or a `pg.Pool` (borrowed, never ended). */
  database: DatabaseInput;
  /**
   * RabbitMQ, for the relay `drainOutbox` creates (not needed with `relay`). That relay declares
   * each message's exchange (topic, durable: as consumers declare it) and counts a message no queue
   * is bound for as published (`onUnroutable: 'discard'`), so testing a producer needs no consumer.
   */
  amqp?: string | AmqpConnection;
  /** A relay of your own (e.g. created with your production options, whose unroutable policy then applies); it is not stopped. */
  relay?: OutboxRelay;
  /** Schema of the outbox table. @defaultValue `'txbox'` */
  schema?: string;
  /** Most relay batches to run before returning (a message that keeps failing does not loop forever). @defaultValue `100` */
  maxBatches?: number;
}

/** A message the relay published (the broker confirmed it). */
export interface PublishedMessage {
  id: string;
  type: string;
  version: number;
  key: string | null;
  exchange: string;
  routingKey: string;
  payload: unknown;
  headers: Record<string, string>;
  correlationId: string | null;
  causationId: string | null;
}

interface PendingRow {
  id: string;
  type: string;
  version: number;
  ordering_key: string | null;
  exchange: string;
  routing_key: string;
  payload: unknown;
  headers: Record<string, string>;
  correlation_id: string | null;
  causation_id: string | null;
}

/**
 * Runs relay batches until nothing due is left, and returns the messages published, in the order
 * they were written. Messages that are not due yet (`delayMs`), that failed and wait for a retry,
 * or that were dead-lettered are not returned.
 */
export async function drainOutbox(options: DrainOutboxOptions): Promise<PublishedMessage[]> {
  const schema = options.schema ?? 'txbox';
  const tables = outboxTables(schema);
  const db = resolvePool(options.database, { max: 2, applicationName: 'txbox-testing' });
  let relay = options.relay;
  const ownsRelay = relay === undefined;
  const amqp =
    relay === undefined
      ? resolveAmqpConnection(options.amqp, { option: 'drainOutbox.amqp', connectionName: 'txbox-testing' })
      : undefined;
  if (!relay) {
    relay = createRelay({
      database: db.pool,
      amqp: (amqp as { connection: AmqpConnection }).connection,
      schema,
      listen: false,
      onUnroutable: 'discard',
    });
  }
  const declared = new Set<string>();
  const published = new Map<string, PublishedMessage>();
  try {
    for (let batch = 0; batch < (options.maxBatches ?? 100); batch++) {
      const { rows: due } = await queryPool<PendingRow & { seq: string }>(
        db.pool,
        `SELECT id, type, version, ordering_key, exchange, routing_key, payload, headers, correlation_id, causation_id
           FROM ${tables.outbox} WHERE published_at IS NULL AND available_at <= now() ORDER BY seq`,
      );
      if (due.length === 0) break;
      if (amqp)
        await declareExchanges(
          amqp.connection,
          due.map((r) => r.exchange).filter((e) => !declared.has(e)),
          declared,
        );
      const result = await relay.runOnce();
      const { rows: left } = await queryPool<{ id: string }>(
        db.pool,
        `SELECT id FROM ${tables.outbox} WHERE id = ANY($1::uuid[]) AND published_at IS NULL
         UNION ALL SELECT id FROM ${tables.deadLetter} WHERE id = ANY($1::uuid[])`,
        [due.map((r) => r.id)],
      );
      const notPublished = new Set(left.map((r) => r.id));
      for (const row of due) if (!notPublished.has(row.id)) published.set(row.id, toPublished(row));
      // Nothing claimable (leased by another relay, held back behind a key): stop rather than spin.
      if (result.claimed === 0) break;
    }
  } finally {
    if (ownsRelay) await relay.stop();
    if (amqp?.owned) await amqp.connection.close();
    if (db.owned) await db.pool.end();
  }
  return [...published.values()];
}

async function declareExchanges(connection: AmqpConnection, exchanges: string[], declared: Set<string>): Promise<void> {
  if (exchanges.length === 0) return;
  const channel = await connection.createChannel();
  try {
    for (const exchange of new Set(exchanges)) {
      await channel.assertExchange(exchange, 'topic', { durable: true });
      declared.add(exchange);
    }
  } finally {
    await channel.close().catch(() => {});
  }
}

function toPublished(row: PendingRow): PublishedMessage {
  return {
    id: row.id,
    type: row.type,
    version: row.version,
    key: row.ordering_key,
    exchange: row.exchange,
    routingKey: row.routing_key,
    payload: row.payload,
    headers: row.headers,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
  };
}
