// `txbox status`, `migrate` and `outbox dead-letters` spawned as the real binary against the real
// PostgreSQL and RabbitMQ, with their exit codes and --json output.
import { fileURLToPath } from 'node:url';
import { defineMessage } from '@txbox/core';
import { createOutbox, createRelay, createWalSlot, dropWalSlot, OUTBOX_SCHEMA_VERSION } from '@txbox/outbox';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testAmqpUrl, uniqueName, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { txbox } from './run-txbox.js';

const OrderPlaced = defineMessage({
  type: 'orders.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string() }),
});
const OrderCancelled = defineMessage({
  type: 'orders.order-cancelled',
  version: 1,
  schema: z.object({ orderId: z.string() }),
});

const { schema, pool, databaseUrl } = useTestSchema('cli_outbox');
const env = { DATABASE_URL: databaseUrl, AMQP_URL: testAmqpUrl() };
const OLD_OUTBOX_BIN = fileURLToPath(new URL('../../outbox/dist/cli/main.js', import.meta.url));
const OLD_INBOX_BIN = fileURLToPath(new URL('../../inbox/dist/cli/main.js', import.meta.url));

describe('txbox migrate and status', () => {
  it('reports pending migrations with exit code 3, applies them, then reports 0', async () => {
    const before = await txbox(['migrate', 'status', 'all', '--schema', schema, '--json'], env);
    expect(before.code).toBe(3);
    const pending = before.json<{ component: string; current: number; upToDate: boolean }[]>();
    expect(pending.map((s) => [s.component, s.current, s.upToDate])).toEqual([
      ['outbox', 0, false],
      ['inbox', 0, false],
    ]);
    expect((await txbox(['status', '--schema', schema], env)).code).toBe(3);

    const applied = await txbox(['migrate', 'all', '--schema', schema], env);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(
      `outbox schema "${schema}": version ${OUTBOX_SCHEMA_VERSION} of ${OUTBOX_SCHEMA_VERSION} (up to date)`,
    );
    expect((await txbox(['migrate', 'status', 'outbox', '--schema', schema], env)).code).toBe(0);

    const status = await txbox(['status', '--schema', schema, '--json'], env);
    expect(status.code).toBe(0);
    expect(status.json()).toMatchObject({
      outbox: { migrations: { upToDate: true }, stats: { pending: 0, deadLetters: 0 }, slot: null },
      inbox: { migrations: { upToDate: true }, groups: [] },
    });
  });

  it('reports the WAL relay slot and how far it lags', async () => {
    await createWalSlot({ database: databaseUrl, schema });
    try {
      const status = await txbox(['status', '--component', 'outbox', '--schema', schema, '--json'], env);
      expect(status.code).toBe(0);
      expect(status.json()).toMatchObject({
        outbox: { slot: { name: `txbox_${schema}`, active: false, lagBytes: expect.any(Number) } },
      });
      const text = await txbox(['status', '--component', 'outbox', '--schema', schema], env);
      expect(text.stdout).toMatch(new RegExp(`WAL slot txbox_${schema}: inactive, \\d+ bytes behind`));
    } finally {
      await dropWalSlot({ database: databaseUrl, schema });
    }
  });

  it('prints the schema as SQL, and the old txbox-outbox / txbox-inbox binaries still work', async () => {
    const sql = await txbox(['migrate', 'sql', 'inbox', '--schema', 'elsewhere']);
    expect(sql.code).toBe(0);
    expect(sql.stdout).toContain('CREATE TABLE "elsewhere".inbox');
    const fromVersion = await txbox(['migrate', 'sql', 'outbox', '--from-version', '1']);
    expect(fromVersion.stdout).toContain('outbox migration 2');
    expect(fromVersion.stdout).not.toContain('outbox migration 1:');
    expect((await txbox(['status', '--schema', schema], env, OLD_OUTBOX_BIN)).code).toBe(0);
    expect((await txbox(['status', '--schema', schema], env, OLD_INBOX_BIN)).code).toBe(0);
  });
});

describe('txbox outbox dead-letters', () => {
  let placed: string;
  let cancelled: string;
  let other: string;
  beforeAll(async () => {
    const outbox = createOutbox({ contracts: [OrderPlaced, OrderCancelled], schema, exchange: uniqueName('nobody') });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      [placed, other, cancelled] = (await outbox.add(client, [
        OrderPlaced.create({ orderId: '1' }, { key: 'order-1' }),
        OrderPlaced.create({ orderId: '2' }, { key: 'order-2' }),
        OrderCancelled.create({ orderId: '1' }, { key: 'order-1' }),
      ])) as [string, string, string];
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const relay = createRelay({
      database: pool,
      amqp: testAmqpUrl(),
      schema,
      listen: false,
      onUnroutable: 'dead-letter',
    });
    await waitUntil('three dead letters', async () => {
      await relay.runOnce();
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox_dead_letter`);
      return rows[0].n === 3;
    });
    await relay.stop();
  });

  it('list filters by type and key; show prints one, and exit code 4 for an unknown id', async () => {
    const all = await txbox(['outbox', 'dead-letters', 'list', '--schema', schema, '--json'], env);
    expect(all.code).toBe(0);
    expect(
      all
        .json<{ id: string }[]>()
        .map((d) => d.id)
        .sort(),
    ).toEqual([placed, other, cancelled].sort());
    const byType = await txbox(
      ['outbox', 'dead-letters', 'list', '--type', OrderPlaced.type, '--key', 'order-1', '--schema', schema, '--json'],
      env,
    );
    expect(byType.json<{ id: string }[]>().map((d) => d.id)).toEqual([placed]);
    const text = await txbox(['outbox', 'dead-letters', 'list', '--schema', schema], env);
    expect(text.stdout).toMatch(/^ID\s+TYPE\s+KEY/);
    expect(text.stdout).toContain(`${OrderCancelled.type} v1`);

    const shown = await txbox(['outbox', 'dead-letters', 'show', cancelled, '--schema', schema, '--json'], env);
    expect(shown.code).toBe(0);
    expect(shown.json()).toMatchObject({ id: cancelled, reason: 'unroutable', payload: { orderId: '1' } });
    const missing = await txbox(
      ['outbox', 'dead-letters', 'show', '0190a000-0000-7000-8000-000000000000', '--schema', schema],
      env,
    );
    expect(missing.code).toBe(4);
  });

  it('requeue and purge need a selection (exit code 2 without), then act on it', async () => {
    const refused = await txbox(['outbox', 'dead-letters', 'purge', '--schema', schema], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/select/);
    expect(
      (await txbox(['outbox', 'dead-letters', 'requeue', '--id', 'not-a-uuid', '--schema', schema], env)).code,
    ).toBe(2);
    expect(
      (await txbox(['outbox', 'dead-letters', 'list', '--since', 'yesterday', '--schema', schema], env)).code,
    ).toBe(2);

    const requeued = await txbox(
      ['outbox', 'dead-letters', 'requeue', '--id', cancelled, '--schema', schema, '--json'],
      env,
    );
    expect(requeued.code).toBe(0);
    expect(requeued.json()).toEqual({ requeued: [cancelled] });
    const { rows } = await pool.query(`SELECT id FROM "${schema}".outbox`);
    expect(rows.map((r) => r.id)).toEqual([cancelled]);

    const purged = await txbox(
      ['outbox', 'dead-letters', 'purge', '--key', 'order-2', '--schema', schema, '--json'],
      env,
    );
    expect(purged.json()).toEqual({ purged: 1 });
    const status = await txbox(['status', '--component', 'outbox', '--schema', schema, '--json'], env);
    expect(status.json()).toMatchObject({ outbox: { stats: { pending: 1, deadLetters: 1 } } });
    const all = await txbox(['outbox', 'dead-letters', 'purge', '--all', '--schema', schema, '--json'], env);
    expect(all.json()).toEqual({ purged: 1 });
  });
});

describe('txbox usage and secrets', () => {
  it('an unknown command or option is a usage error (exit code 2) with the help', async () => {
    const unknown = await txbox(['outbox', 'dead-letters', 'frobnicate'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Usage: txbox');
    const badOption = await txbox(['status', '--nope'], env);
    expect(badOption.code).toBe(2);
    expect((await txbox(['status'], {})).code).toBe(2);
    const help = await txbox(['inbox', 'dead-letters', 'replay', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--group <group>');
  });

  it('never prints a password, in text or JSON, when a connection fails', async () => {
    const secret = 'hunter2-secret';
    const runs = [
      await txbox(['status', '--database-url', `postgres://postgres:${secret}@127.0.0.1:1/test`]),
      await txbox(['status', '--json', '--database-url', `postgres://postgres:${secret}@127.0.0.1:1/test`]),
      await txbox([
        'inbox',
        'dead-letters',
        'list',
        '--group',
        'g',
        '--amqp-url',
        `amqp://guest:${secret}@127.0.0.1:1`,
      ]),
      await txbox([
        'inbox',
        'dead-letters',
        'list',
        '--json',
        '--group',
        'g',
        '--amqp-url',
        `amqp://guest:${secret}@127.0.0.1:1`,
      ]),
    ];
    expect(runs[0]?.stderr).toContain('postgres://postgres:***@127.0.0.1:1/test');
    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(run.stdout + run.stderr).not.toContain(secret);
      expect(run.stderr.length).toBeGreaterThan(0);
    }
    expect(JSON.parse(runs[3]?.stderr ?? '')).toMatchObject({ error: { code: 'CONNECTION_FAILED' } });
  });
});
