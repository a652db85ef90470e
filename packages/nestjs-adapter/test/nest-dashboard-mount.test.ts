// @txbox/dashboard mounted in a Nest application (Express underneath) with `app.use(path, handler)`:
// links follow the mount path, the authorize hook guards every request, the application's own
// routes keep working, and an action posted as a form Nest already parsed runs with the token.
import 'reflect-metadata';
import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { defineMessage } from '@txbox/core';
import { createDashboard, type DashboardHandler } from '@txbox/dashboard';
import { createOutbox, createRelay, migrateOutbox } from '@txbox/outbox';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testAmqpUrl, uniqueName, useTestSchema, waitUntil } from '../../../test-support/index.js';

const Ping = defineMessage({ type: 'test.ping', version: 1, schema: z.object({ n: z.number() }) });
const TOKEN = 'nest-mount-token-0123456789';
const { schema, pool, databaseUrl } = useTestSchema('nest_dashboard');

@Controller('hello')
class HelloController {
  @Get()
  hello() {
    return { hello: 'world' };
  }
}

@Module({ controllers: [HelloController] })
class HelloModule {}

let app: INestApplication;
let dashboard: DashboardHandler;
let deadId: string;

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
  const outbox = createOutbox({ contracts: [Ping], schema, exchange: uniqueName('nobody') });
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    [deadId] = (await outbox.add(client, [Ping.create({ n: 1 })])) as [string];
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
  await waitUntil('the message is a dead letter', async () => {
    await relay.runOnce();
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox_dead_letter`);
    return rows[0].n === 1;
  });
  await relay.stop();

  dashboard = createDashboard({
    database: pool,
    schema,
    actions: { token: TOKEN },
    authorize: (req) => req.headers['x-operator'] === 'alice',
  });
  const moduleRef = await Test.createTestingModule({ imports: [HelloModule] }).compile();
  app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  app.use('/ops/txbox', dashboard);
  await app.init();
});

afterAll(async () => {
  await app?.close();
  await dashboard?.close();
});

describe('the dashboard mounted in Nest', () => {
  it('answers under its mount path, behind the authorize hook, next to the app routes', async () => {
    const server = app.getHttpServer();
    await request(server).get('/ops/txbox/').expect(403);
    const page = await request(server).get('/ops/txbox/').set('x-operator', 'alice').expect(200);
    expect(page.text).toContain('href="/ops/txbox/assets/dashboard.css"');
    expect(page.text).toContain('href="/ops/txbox/outbox/dead-letters"');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    const bare = await request(server).get('/ops/txbox').set('x-operator', 'alice').expect(200);
    expect(bare.text).toContain('href="/ops/txbox/outbox/dead-letters"');
    await request(server).get('/ops/txbox/assets/dashboard.js').set('x-operator', 'alice').expect(200);
    await request(server).get('/hello').expect(200, { hello: 'world' });
  });

  it('runs an action from a form body Nest already parsed, only with the token', async () => {
    const server = app.getHttpServer();
    const post = (token: string) =>
      request(server)
        .post('/ops/txbox/outbox/dead-letters/requeue')
        .set('x-operator', 'alice')
        .type('form')
        .send({ id: deadId, token });
    await post('wrong-token-but-long-enough').expect(403);
    const done = await post(TOKEN).expect(303);
    expect(done.headers.location).toBe('/ops/txbox/outbox/dead-letters?notice=requeued-1');
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox WHERE id = $1`, [deadId]);
    expect(rows[0].n).toBe(1);
  });
});
