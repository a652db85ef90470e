import 'reflect-metadata';
import { defineMessage } from '@txbox/core';
import { createOutbox, migrateOutbox } from '@txbox/outbox';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useTestSchema } from '../../../test-support/index.js';
import { OrderCancelled, OrderPlaced, outboxRowCount } from './fixtures.js';

const { schema, pool, databaseUrl } = useTestSchema('outbox_refusals');
const outbox = createOutbox({ contracts: [OrderPlaced], schema, maxPayloadBytes: 1024 });
let dataSource: DataSource;

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
  dataSource = new DataSource({ type: 'postgres', url: databaseUrl, entities: [] });
  await dataSource.initialize();
});
afterAll(async () => {
  await dataSource?.destroy();
});

const valid = () => OrderPlaced.create({ orderId: 'o-1', totalCents: 100 });

/** Runs `fn` inside BEGIN … ROLLBACK-or-COMMIT and returns the error it threw. */
async function errorInTransaction(fn: (client: pg.PoolClient) => Promise<unknown>) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const error = await fn(client).then(
      () => undefined,
      (e: unknown) => e,
    );
    await client.query('COMMIT');
    return error as Error & { code?: string };
  } finally {
    client.release();
  }
}

describe('the writer refuses what it cannot write safely, and writes nothing', () => {
  it('refuses a pg Pool, saying to pass a client inside BEGIN', async () => {
    await expect(outbox.add(pool, valid())).rejects.toMatchObject({
      code: 'NOT_IN_TRANSACTION',
      message: expect.stringContaining('pool.connect()'),
    });
  });

  it('refuses a pg client that is not inside a transaction', async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query('SELECT 1');
      await expect(outbox.add(client, valid())).rejects.toMatchObject({
        code: 'NOT_IN_TRANSACTION',
        message: expect.stringContaining('BEGIN'),
      });
    } finally {
      await client.end();
    }
  });

  it('refuses a TypeORM DataSource and dataSource.manager, saying to use dataSource.transaction()', async () => {
    await expect(outbox.add(dataSource, valid())).rejects.toMatchObject({
      code: 'NOT_IN_TRANSACTION',
      message: expect.stringContaining('dataSource.transaction'),
    });
    await expect(outbox.add(dataSource.manager, valid())).rejects.toMatchObject({
      code: 'NOT_IN_TRANSACTION',
      message: expect.stringContaining('dataSource.transaction'),
    });
  });

  it('refuses null, strings and plain objects', async () => {
    for (const handle of [null, undefined, 'client', {}, { query: 'no' }]) {
      await expect(outbox.add(handle, valid())).rejects.toMatchObject({ code: 'NOT_IN_TRANSACTION' });
    }
  });

  it('refuses an invalid payload, naming the field, and writes nothing of the batch', async () => {
    const error = await errorInTransaction((c) =>
      outbox.add(c, [valid(), OrderPlaced.create({ orderId: 'o-2', totalCents: -5 })]),
    );
    expect(error).toMatchObject({ code: 'PAYLOAD_INVALID', message: expect.stringContaining('totalCents') });
    expect(await outboxRowCount(pool, schema)).toBe(0);
  });

  it('refuses an oversized payload with its size and the limit', async () => {
    const error = await errorInTransaction((c) =>
      outbox.add(c, OrderPlaced.create({ orderId: 'x'.repeat(2000), totalCents: 1 })),
    );
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', sizeBytes: expect.any(Number), limitBytes: 1024 });
    expect(error?.message).toContain('maxPayloadBytes');
    expect(await outboxRowCount(pool, schema)).toBe(0);
  });

  it('refuses a contract it was not configured with, and one with the same name defined twice', async () => {
    const error = await errorInTransaction((c) => outbox.add(c, OrderCancelled.create({ orderId: 'o', reason: 'r' })));
    expect(error).toMatchObject({ code: 'CONTRACT_UNKNOWN', message: expect.stringContaining('"contracts" option') });
    const lookalike = defineMessage({ type: OrderPlaced.type, version: 1, schema: z.object({}) });
    const error2 = await errorInTransaction((c) => outbox.add(c, lookalike.create({})));
    expect(error2).toMatchObject({ code: 'CONTRACT_UNKNOWN' });
    expect(await outboxRowCount(pool, schema)).toBe(0);
  });

  it('refuses bad message options: id, key, delay, reserved headers', async () => {
    const cases: [object, string][] = [
      [{ id: 'not-a-uuid' }, 'id'],
      [{ key: '' }, 'key'],
      [{ delayMs: -1 }, 'delayMs'],
      [{ delayMs: Number.NaN }, 'delayMs'],
      [{ headers: { 'x-txbox-version': '9' } }, 'headers'],
      [{ headers: { traceparent: 'x' } }, 'headers'],
      [{ headers: { n: 1 } }, 'headers'],
      [{ headers: { big: 'x'.repeat(20_000) } }, 'headers'],
    ];
    for (const [options, field] of cases) {
      const error = await errorInTransaction((c) =>
        outbox.add(c, OrderPlaced.create({ orderId: 'o', totalCents: 1 }, options as never)),
      );
      expect(error, JSON.stringify(options)).toMatchObject({ code: 'MESSAGE_INVALID', field });
    }
    expect(await outboxRowCount(pool, schema)).toBe(0);
  });

  it('refuses a handle after its transaction committed', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await outbox.add(client, valid());
      await client.query('COMMIT');
      await expect(outbox.add(client, valid())).rejects.toMatchObject({ code: 'NOT_IN_TRANSACTION' });
    } finally {
      client.release();
    }
    expect(await outboxRowCount(pool, schema)).toBe(1);
  });
});

describe('configuration is checked at construction', () => {
  it('rejects a schema name containing a quote', () => {
    expect(() => createOutbox({ contracts: [OrderPlaced], schema: 'bad"schema' })).toThrow(
      expect.objectContaining({
        code: 'IDENTIFIER_INVALID',
        value: 'bad"schema',
        message: expect.stringContaining('schema name'),
      }),
    );
  });

  it('rejects a bad exchange name, a bad size limit and missing contracts', () => {
    expect(() => createOutbox({ contracts: [OrderPlaced], exchange: 'amq.topic' })).toThrow(
      expect.objectContaining({ code: 'IDENTIFIER_INVALID' }),
    );
    expect(() => createOutbox({ contracts: [OrderPlaced], maxPayloadBytes: -1 })).toThrow(
      expect.objectContaining({ code: 'CONFIGURATION_INVALID', option: 'outbox.maxPayloadBytes' }),
    );
    expect(() => createOutbox({} as never)).toThrow(expect.objectContaining({ code: 'CONFIGURATION_INVALID' }));
  });
});
