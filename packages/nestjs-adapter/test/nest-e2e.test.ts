import 'reflect-metadata';
import diagnosticsChannel from 'node:diagnostics_channel';
import type net from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { groupTopology } from '@txbox/inbox';
import { TxboxAdmin, TxboxHealthIndicator, TxboxModule } from '@txbox/nestjs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAmqpUrl, uniqueName, useAmqp, useTestSchema, waitUntil } from '../../../test-support/index.js';
import { AppModule, type AppSettings } from './app/app.module.js';
import { handled } from './app/billing.js';
import { publishAgain } from './app/cls.js';
import { OrderPlaced } from './app/contracts.js';

const { schema, pool, databaseUrl } = useTestSchema('nest_e2e');
const amqp = useAmqp();
const settings: AppSettings = {
  databaseUrl,
  amqpUrl: testAmqpUrl(),
  schema,
  exchange: uniqueName('nest_events'),
  group: uniqueName('nest_billing'),
};
const topology = groupTopology({
  group: settings.group,
  exchange: settings.exchange,
  retryDelaysMs: [200],
  bindings: [],
  queueType: 'classic',
});

async function boot(): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(settings)] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  await app.init();
  return app;
}

async function count(table: string, where = 'true', values: unknown[] = []): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".${table} WHERE ${where}`, values);
  return rows[0].n;
}

/**
 * Records every TCP client socket opened while `fn` runs (PostgreSQL, RabbitMQ, HTTP), so a
 * test can tell which of them are still open afterwards — independent of the test's own
 * connections, whose idle clients come and go.
 */
async function recordSockets<T>(fn: () => Promise<T>): Promise<{ result: T; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const onSocket = (message: unknown) => sockets.push((message as { socket: net.Socket }).socket);
  diagnosticsChannel.subscribe('net.client.socket', onSocket);
  try {
    return { result: await fn(), sockets };
  } finally {
    diagnosticsChannel.unsubscribe('net.client.socket', onSocket);
  }
}

let app: INestApplication;

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  app = await boot();
});

afterAll(async () => {
  await app?.close();
  for (const q of [topology.queue, topology.deadLetterQueue, ...topology.delayQueues.map((d) => d.name)]) {
    await amqp.channel.deleteQueue(q).catch(() => {});
  }
  await amqp.channel.deleteExchange(settings.exchange).catch(() => {});
});

describe('txbox in a Nest application (TypeORM, PostgreSQL, RabbitMQ)', () => {
  it('an HTTP request saves an order and its event in one transaction; a handler in another module charges it once', async () => {
    const response = await request(app.getHttpServer())
      .post('/orders')
      .send({ id: 'o-1', totalCents: 1000 })
      .expect(201);
    const { messageId } = response.body as { messageId: string };
    await waitUntil('the charge', async () => (await count('charges', '"orderId" = $1', ['o-1'])) === 1);
    const { rows } = await pool.query(
      `SELECT "amountCents", "messageId" FROM "${schema}".charges WHERE "orderId" = 'o-1'`,
    );
    // 2% fee from the FeePolicy injected by type: decorator metadata survived the transform.
    expect(rows).toEqual([{ amountCents: 1020, messageId }]);
  });

  it('the handler takes effect exactly once under redelivery', async () => {
    const response = await request(app.getHttpServer())
      .post('/orders')
      .send({ id: 'o-2', totalCents: 500 })
      .expect(201);
    const { messageId } = response.body as { messageId: string };
    await waitUntil('the first charge', async () => (await count('charges', '"orderId" = $1', ['o-2'])) === 1);
    // The broker redelivers the same message id three more times.
    for (let i = 0; i < 3; i++) {
      publishAgain(amqp.channel, settings.exchange, {
        id: messageId,
        type: OrderPlaced.type,
        key: 'order:o-2',
        payload: { orderId: 'o-2', totalCents: 500 },
      });
    }
    const admin = app.get(TxboxAdmin);
    await waitUntil(
      'three duplicates skipped',
      async () => (await admin.stats()).consumers[0]?.duplicatesSkipped === 3,
    );
    expect(await count('charges', '"orderId" = $1', ['o-2'])).toBe(1);
    expect(handled.filter((id) => id === messageId)).toHaveLength(1);
  });

  it('a request whose transaction fails publishes nothing', async () => {
    await request(app.getHttpServer())
      .post('/orders')
      .send({ id: 'o-3', totalCents: 700, failAfterWrite: true })
      .expect(500);
    await request(app.getHttpServer()).post('/orders').send({ id: 'o-4', totalCents: 800 }).expect(201);
    await waitUntil('the later charge', async () => (await count('charges', '"orderId" = $1', ['o-4'])) === 1);
    expect(await count('orders', 'id = $1', ['o-3'])).toBe(0);
    expect(await count('charges', '"orderId" = $1', ['o-3'])).toBe(0);
    expect(await count('outbox')).toBe(0);
  });

  it('exposes health and admin services', async () => {
    const health = await app.get(TxboxHealthIndicator).isHealthy('txbox');
    expect(health.txbox?.status).toBe('up');
    const stats = await app.get(TxboxAdmin).stats();
    expect(stats.outbox.pending).toBe(0);
    expect(stats.consumers.map((c) => c.group)).toEqual([settings.group]);
    // The inbox side of the admin borrows the module's pool and broker connection.
    const admin = app.get(TxboxAdmin);
    expect(await admin.listInboxDeadLetters(settings.group)).toEqual([]);
    expect(await admin.forgetInboxRecord(settings.group, 'never-seen')).toBe(false);
    await expect(admin.replayInboxDeadLetters(settings.group, {})).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
    });
  });

  it('app.close() under load loses nothing and leaves no open handles', async () => {
    await app.close();
    const orderIds = Array.from({ length: 40 }, (_, i) => `load-${i}`);
    const { sockets } = await recordSockets(async () => {
      app = await boot();
      const server = app.getHttpServer();
      const responses = await Promise.all(
        orderIds.map((id) => request(server).post('/orders').send({ id, totalCents: 100 })),
      );
      expect(responses.every((r) => r.status === 201)).toBe(true);
      // Close while the relay and the consumer are still working through the burst.
      await app.close();
    });
    const open = () => sockets.filter((socket) => !socket.destroyed).map((s) => `${s.remoteAddress}:${s.remotePort}`);
    expect(sockets.length).toBeGreaterThan(2); // it did open PostgreSQL and RabbitMQ connections
    // Sockets close asynchronously after end(): give them a moment, then every one must be gone.
    // Sockets close asynchronously after close() resolves; the expectation below names any left.
    await waitUntil('the closed application to release its sockets', () => open().length === 0, {
      timeoutMs: 5000,
    }).catch(() => {});
    expect(open(), 'sockets left open by app.close()').toEqual([]);
    // Nothing lost: a restarted application finishes whatever the closed one had not.
    app = await boot();
    await waitUntil(
      'every committed order to be charged',
      async () => (await count('charges', `"orderId" LIKE 'load-%'`)) === orderIds.length,
    );
    expect(await count('charges', `"orderId" LIKE 'load-%'`)).toBe(orderIds.length);
    const { rows } = await pool.query(
      `SELECT "orderId", count(*)::int AS n FROM "${schema}".charges GROUP BY "orderId" HAVING count(*) > 1`,
    );
    expect(rows).toEqual([]);
  });
});

describe('module options are validated at startup', () => {
  it('bad options fail startup with a message naming the option', async () => {
    const attempt = (options: object) =>
      Test.createTestingModule({ imports: [TxboxModule.forRoot(options as never)] })
        .compile()
        .then((m) => m.init());
    await expect(
      attempt({ contracts: [OrderPlaced], amqpUrl: 'http://nope', database: { url: databaseUrl } }),
    ).rejects.toThrow('TxboxModule.amqpUrl');
    await expect(attempt({ contracts: 'x', amqpUrl: testAmqpUrl(), database: { url: databaseUrl } })).rejects.toThrow(
      'TxboxModule.contracts',
    );
    await expect(
      attempt({
        contracts: [OrderPlaced],
        amqpUrl: testAmqpUrl(),
        database: { url: databaseUrl },
        schema: 'Bad"Schema',
      }),
    ).rejects.toThrow('TxboxModule.schema');
    await expect(attempt({ contracts: [OrderPlaced], amqpUrl: testAmqpUrl() })).rejects.toThrow('TxboxModule.database');
  });
});
