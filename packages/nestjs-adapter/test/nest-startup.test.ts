import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { defineMessage, type PayloadOf, type TxboxLogger } from '@txbox/core';
import { groupTopology, type HandlerContext } from '@txbox/inbox';
import { OnMessage, TxboxAdmin, TxboxModule, type TxboxModuleOptions, TxboxOutbox, TxboxRuntime } from '@txbox/nestjs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  closedPort,
  deleteTopology,
  testAmqpUrl,
  testDatabaseUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import { OrderPlaced } from './app/contracts.js';

const { schema, pool, databaseUrl } = useTestSchema('nest_startup');
const amqp = useAmqp();
const declared: string[] = [];

const OrderCharged = defineMessage({
  type: 'shop.order-charged',
  version: 1,
  schema: z.object({ orderId: z.string() }),
});

/** A logger that keeps every line, to check what txbox says (and never says). */
function recordingLogger(): TxboxLogger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
  };
  return { lines, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

@Injectable()
class Handlers {
  @OnMessage(OrderPlaced)
  async onOrder(): Promise<void> {}
}

async function start(options: Partial<TxboxModuleOptions>, providers: unknown[] = [Handlers]) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TxboxModule.forRoot({
        isGlobal: true,
        contracts: [OrderPlaced, OrderCharged],
        amqpUrl: testAmqpUrl(),
        database: { url: databaseUrl },
        schema,
        ...options,
      }),
    ],
    providers: providers as never,
  }).compile();
  return moduleRef.createNestApplication({ logger: false });
}

afterAll(async () => {
  for (const group of declared) {
    await deleteTopology(
      amqp.channel,
      groupTopology({ group, exchange: 'txbox.events', retryDelaysMs: [], bindings: [], queueType: 'classic' }),
    );
  }
});

describe('NODE_ENV=production with migrations pending', () => {
  it('fails the start before anything runs, saying that production mode turned auto-migration off', async () => {
    const fresh = uniqueName('nest_prod');
    const logger = recordingLogger();
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      const app = await start({ schema: fresh, logger, defaultGroup: uniqueName('nest_prod') });
      const failure = app.init();
      await expect(failure).rejects.toMatchObject({
        code: 'SCHEMA_NOT_MIGRATED',
        message: expect.stringMatching(/NODE_ENV is "production".*runMigrations: true/),
      });
      await expect(failure).rejects.toThrow(/txbox-outbox migrate and npx txbox-inbox migrate/);
      // Nothing was started, so nothing keeps the process alive after the error.
      expect(app.get(TxboxRuntime).amqp).toBeUndefined();
      expect(logger.lines.filter((l) => l.startsWith('error'))).toEqual([
        expect.stringMatching(/^error txbox did not start: txbox migrations are pending/),
      ]);
      await app.close();
    } finally {
      process.env.NODE_ENV = previous;
    }
    const { rows } = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [fresh]);
    expect(rows).toEqual([]);
  });
});

describe('the broker unreachable at start', () => {
  it('by default the app starts, and the log says it is not consuming yet; the password never shows', async () => {
    const logger = recordingLogger();
    const url = `amqp://guest:s3cret-pw@127.0.0.1:${await closedPort()}`;
    const app = await start({ amqpUrl: url, logger, defaultGroup: uniqueName('nest_nobroker') });
    await app.init();
    try {
      const lines = logger.lines.join('\n');
      expect(lines).toMatch(/warn Inbox consumer started without RabbitMQ; it consumes once the broker is reachable/);
      expect(lines).toMatch(/warn txbox started without RabbitMQ .*nothing is consumed until then/);
      expect(lines).not.toMatch(/info Inbox consumer started/);
      expect(lines).not.toContain('s3cret-pw');
    } finally {
      await app.close();
    }
  });

  it('with waitForBroker the start fails after its timeout, naming the option', async () => {
    const logger = recordingLogger();
    const url = `amqp://guest:s3cret-pw@127.0.0.1:${await closedPort()}`;
    const app = await start({ amqpUrl: url, logger, waitForBroker: { timeoutMs: 800 }, defaultGroup: 'unused' });
    await expect(app.init()).rejects.toMatchObject({
      code: 'CONNECTION_FAILED',
      message: expect.stringContaining('waitForBroker.timeoutMs (800 ms)'),
    });
    expect(logger.lines.join('\n')).not.toContain('s3cret-pw');
    await app.close();
  });

  it('with waitForBroker and a reachable broker the start waits for it and logs that it started', async () => {
    const logger = recordingLogger();
    const group = uniqueName('nest_wait');
    declared.push(group);
    const app = await start({ logger, waitForBroker: true, defaultGroup: group });
    await app.init();
    try {
      expect(app.get(TxboxRuntime).amqp?.isConnected).toBe(true);
      expect(logger.lines).toContainEqual(expect.stringMatching(/^info txbox started: relay on 1 database\(s\)/));
    } finally {
      await app.close();
    }
  });

  it('rejects a waitForBroker timeout that is not a positive whole number', async () => {
    const app = start({ waitForBroker: { timeoutMs: -1 } });
    await expect(app).rejects.toThrow('TxboxModule.waitForBroker');
  });
});

describe('a consumer group with a database of its own', () => {
  const ledgerDb = uniqueName('txbox_nest_ledger');
  const ledgerGroup = uniqueName('nest_ledger');
  const shippingGroup = uniqueName('nest_shipping');
  let ledgerPool: pg.Pool;
  const shipped: string[] = [];

  @Injectable()
  class Ledger {
    @OnMessage(OrderPlaced, { group: ledgerGroup })
    async record(order: PayloadOf<typeof OrderPlaced>, ctx: HandlerContext): Promise<void> {
      await ctx.client.query('INSERT INTO ledger (order_id) VALUES ($1)', [order.orderId]);
      await ctx.outbox.add(OrderCharged.create({ orderId: order.orderId }));
    }
  }

  @Injectable()
  class Shipping {
    @OnMessage(OrderCharged, { group: shippingGroup })
    async ship(charged: PayloadOf<typeof OrderCharged>): Promise<void> {
      shipped.push(charged.orderId);
    }
  }

  beforeAll(async () => {
    await pool.query(`CREATE DATABASE "${ledgerDb}"`);
    const url = new URL(testDatabaseUrl());
    url.pathname = `/${ledgerDb}`;
    ledgerPool = new pg.Pool({ connectionString: url.toString(), max: 2 });
    await ledgerPool.query('CREATE TABLE ledger (order_id text NOT NULL)');
    declared.push(ledgerGroup, shippingGroup);
  });
  afterAll(async () => {
    await ledgerPool?.end();
    // Everything the app opened on the ledger database is closed by now, or closing: wait for its
    // connections to go rather than terminate them (a terminated connection's 'error' event
    // reaches whoever owns it, which may have no listener left).
    let left: { application_name: string; state: string }[] = [];
    for (let i = 0; i < 50; i++) {
      ({ rows: left } = await pool.query(
        'SELECT application_name, state FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [ledgerDb],
      ));
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (left.length > 0) console.warn(`connections still open on ${ledgerDb}: ${JSON.stringify(left)}`);
    await pool.query(`DROP DATABASE IF EXISTS "${ledgerDb}" WITH (FORCE)`);
  });

  it('keeps its inbox and handler writes there, and what its handlers add to the outbox is relayed from there', async () => {
    const app = await start(
      {
        relay: { pollIntervalMs: 200, published: 'keep' },
        consumers: { groups: { [ledgerGroup]: { database: { pool: ledgerPool } } } },
      },
      [Ledger, Shipping],
    );
    await app.init();
    try {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await app.get(TxboxOutbox).add(client, OrderPlaced.create({ orderId: 'split-1', totalCents: 100 }));
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await waitUntil('the shipment', () => shipped.includes('split-1'));
      const ledger = await ledgerPool.query('SELECT order_id FROM ledger');
      expect(ledger.rows).toEqual([{ order_id: 'split-1' }]);
      const inboxHere = await ledgerPool.query(`SELECT consumer_group FROM "${schema}".inbox`);
      expect(inboxHere.rows).toEqual([{ consumer_group: ledgerGroup }]);
      const inboxThere = await pool.query(`SELECT consumer_group FROM "${schema}".inbox ORDER BY 1`);
      expect(inboxThere.rows.map((r) => r.consumer_group)).not.toContain(ledgerGroup);
      // The ledger's event went through the outbox of the ledger's database.
      const relayed = await ledgerPool.query(`SELECT type FROM "${schema}".outbox WHERE published_at IS NOT NULL`);
      expect(relayed.rows).toEqual([{ type: OrderCharged.type }]);
      const health = await app.get(TxboxAdmin).stats();
      expect(health.consumers.map((c) => c.group).sort()).toEqual([ledgerGroup, shippingGroup].sort());
    } finally {
      await app.close();
    }
  });
});
