// The dashboard as an operator sees it: the real `txbox dashboard` binary against the real
// PostgreSQL and RabbitMQ, driven through Debian's Chromium. A backlog grows on reload, dead
// letters of both sides are requeued/replayed with a click, actions are refused without the
// token, and no page shows the database password.

import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineMessage, encodeAmqpMessage } from '@txbox/core';
import { createConsumer, defineHandler, type InboxConsumer, migrateInbox, NonRetryableError } from '@txbox/inbox';
import { createOutbox, createRelay, createWalSlot, dropWalSlot, migrateOutbox } from '@txbox/outbox';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  deleteTopology,
  type RunningChild,
  runChild,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
  waitUntil,
} from '../../../test-support/index.js';
import { launchBrowser, type TestBrowser } from './browser.js';

const TXBOX_BIN = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const PASSWORD = 's3cret-dashboard-pass';
const TOKEN = 'a-long-test-token-0123456789';

const OrderPlaced = defineMessage({
  type: 'orders.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string(), customer: z.object({ email: z.string() }) }),
});

const { schema, pool, databaseUrl } = useTestSchema('dashboard');
const amqp = useAmqp();
// The server trusts local connections, so a password in the URL is accepted and ignored: it is
// the secret no page may show.
const secretUrl = databaseUrl.replace('://postgres@', `://postgres:${PASSWORD}@`);
const exchange = uniqueName('dashboard_events');
const group = uniqueName('billing');
const outbox = createOutbox({ contracts: [OrderPlaced], schema, exchange: uniqueName('nobody') });
let consumer: InboxConsumer;
let browser: TestBrowser;
let readOnly: { child: RunningChild; url: string };
let withActions: { child: RunningChild; url: string };

async function startDashboard(extra: string[]): Promise<{ child: RunningChild; url: string }> {
  const child = runChild(
    TXBOX_BIN,
    [
      'dashboard',
      '--port',
      '0',
      '--schema',
      schema,
      '--groups',
      group,
      '--redact',
      'customer.email',
      '--sample-interval',
      '500',
      ...extra,
    ],
    { DATABASE_URL: secretUrl, AMQP_URL: testAmqpUrl() },
  );
  const line = await child.waitForLine(/^txbox dashboard on http:/);
  return { child, url: (/(http:\S+)/.exec(line) as RegExpExecArray)[1] as string };
}

async function writeMessages(n: number): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const ids = (await outbox.add(
      client,
      Array.from({ length: n }, (_, i) =>
        OrderPlaced.create({ orderId: `o-${i}`, customer: { email: `buyer${i}@example.com` } }, { key: `order-${i}` }),
      ),
    )) as string[];
    await client.query('COMMIT');
    return ids;
  } finally {
    client.release();
  }
}

/** Runs a relay until every pending message is a dead letter (their exchange has no queue). */
async function deadLetterAllPending(): Promise<void> {
  const relay = createRelay({
    database: pool,
    amqp: testAmqpUrl(),
    schema,
    listen: false,
    onUnroutable: 'dead-letter',
  });
  try {
    await waitUntil('every pending message is a dead letter', async () => {
      await relay.runOnce();
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox WHERE published_at IS NULL`);
      return rows[0].n === 0;
    });
  } finally {
    await relay.stop();
  }
}

async function pending(page: Page): Promise<number> {
  return Number(await page.getByTestId('outbox-pending').textContent());
}

function publishToGroup(orderId: string): string {
  const id = randomUUID();
  const { content, properties } = encodeAmqpMessage({
    id,
    type: OrderPlaced.type,
    version: 1,
    occurredAt: new Date(),
    key: `order:${orderId}`,
    correlationId: null,
    causationId: null,
    traceparent: null,
    tracestate: null,
    headers: { tenant: 'acme' },
    payload: { orderId, customer: { email: 'inbox-buyer@example.com' } },
  });
  amqp.channel.publish(exchange, OrderPlaced.type, content, properties);
  return id;
}

/** Every page the tests visit, kept to check none of them shows the password. */
const seen: string[] = [];
async function visit(page: Page, url: string): Promise<void> {
  const response = await page.goto(url);
  expect(response?.status()).toBe(200);
  seen.push(await page.content());
}

let billingBroken = true;

beforeAll(async () => {
  await migrateOutbox({ database: databaseUrl, schema });
  await migrateInbox({ database: databaseUrl, schema });
  consumer = createConsumer({
    database: databaseUrl,
    amqp: testAmqpUrl(),
    schema,
    exchange,
    group,
    handlers: [
      defineHandler(OrderPlaced, async (payload) => {
        if (billingBroken && payload.orderId.startsWith('bad')) throw new NonRetryableError('card processor offline');
      }),
    ],
  });
  await consumer.start();
  // WAL mode's slot (dropped after the file: a slot holds back WAL on the shared server).
  await createWalSlot({ database: databaseUrl, schema });
  readOnly = await startDashboard([]);
  withActions = await startDashboard(['--actions', '--token', TOKEN]);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await readOnly?.child.kill('SIGTERM');
  await withActions?.child.kill('SIGTERM');
  await consumer?.stop();
  if (consumer) await deleteTopology(amqp.channel, consumer.topology);
  await dropWalSlot({ database: databaseUrl, schema });
});

describe('txbox dashboard in a browser', () => {
  it('shows a growing backlog while no relay runs', async () => {
    const page = await browser.context.newPage();
    await visit(page, readOnly.url);
    const before = await pending(page);
    await writeMessages(3);
    await page.reload();
    expect(await pending(page)).toBe(before + 3);
    await writeMessages(4);
    await page.reload();
    expect(await pending(page)).toBe(before + 7);
    expect(Number(await page.getByTestId('outbox-due').textContent())).toBeGreaterThanOrEqual(7);
    // The slot exists and no WAL relay streams from it: its lag is on the page.
    expect(await page.getByTestId('wal-slot-lag').locator('..').textContent()).toContain('no relay streaming');
    await expect.poll(async () => (await page.getByTestId('outbox-oldest-due').textContent()) ?? '').not.toBe('0 ms');
    seen.push(await page.content());
    await page.close();
  });

  it('shows an outbox dead letter (payload redacted, headers, history) and requeues it with a click', async () => {
    const [id] = await writeMessages(1);
    await deadLetterAllPending();

    const page = await browser.context.newPage();
    await visit(page, `${withActions.url}outbox/dead-letters/${id}`);
    const payload = (await page.getByTestId('payload').textContent()) ?? '';
    expect(payload).toContain('"orderId"');
    expect(payload).toContain('[redacted]');
    expect(payload).not.toContain('@example.com');
    expect(await page.getByTestId('history').textContent()).toContain('PUBLISH_UNROUTABLE');

    await page.getByTestId('token').fill(TOKEN);
    await page.getByTestId('action-requeue').click();
    await expect.poll(() => page.getByTestId('notice').textContent()).toBe('requeued 1 message');
    seen.push(await page.content());
    expect(await page.locator(`a[href$="${id}"]`).count()).toBe(0);
    const { rows } = await pool.query(`SELECT published_at FROM "${schema}".outbox WHERE id = $1`, [id]);
    expect(rows).toEqual([{ published_at: null }]);
    await page.close();
  });

  it("shows a group's depths and dead letters, and replays one to that group with a click", async () => {
    const bad = publishToGroup('bad-1');
    const page = await browser.context.newPage();
    await waitUntil('the inbox dead letter is listed', async () => {
      await visit(page, `${withActions.url}inbox/${group}/dead-letters`);
      return (await page.locator(`a[href$="${bad}"]`).count()) === 1;
    });
    await visit(page, withActions.url);
    expect(await page.getByTestId(`group-${group}`).textContent()).toContain(group);

    await visit(page, `${withActions.url}inbox/${group}/dead-letters/${bad}`);
    expect(await page.getByTestId('payload').textContent()).toContain('[redacted]');
    expect(await page.getByTestId('headers').textContent()).toContain('acme');
    expect(await page.getByTestId('history').textContent()).toContain('card processor offline');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}inbox-dead-letter.png`, fullPage: true });

    billingBroken = false;
    await page.getByTestId('token').fill(TOKEN);
    await page.getByTestId('action-replay').click();
    await expect.poll(() => page.getByTestId('notice').textContent()).toBe('replayed 1 message');
    await waitUntil('the replayed message was processed', async () => {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".inbox WHERE message_id = $1`, [
        bad,
      ]);
      return rows[0].n === 1;
    });
    seen.push(await page.content());
    await page.close();
  });

  it('refuses every action without the token: no buttons read-only, 403 for a POST without or with a wrong token', async () => {
    const [id] = await writeMessages(1);
    await deadLetterAllPending();

    const page = await browser.context.newPage();
    await visit(page, `${readOnly.url}outbox/dead-letters`);
    expect(await page.locator(`a[href$="${id}"]`).count()).toBe(1);
    expect(await page.locator('button').count()).toBe(0);
    expect(await page.locator('input[name="id"]').count()).toBe(0);
    await page.close();

    const post = (base: string, headers: Record<string, string>, body: string) =>
      fetch(`${base}outbox/dead-letters/requeue`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
        redirect: 'manual',
      });
    expect((await post(readOnly.url, {}, `id=${id}`)).status).toBe(403);
    expect((await post(readOnly.url, { 'x-txbox-token': TOKEN }, `id=${id}&token=${TOKEN}`)).status).toBe(403);
    expect((await post(withActions.url, {}, `id=${id}`)).status).toBe(403);
    expect((await post(withActions.url, {}, `id=${id}&token=wrong-token-0123456789`)).status).toBe(403);
    expect((await post(withActions.url, { 'x-txbox-token': 'nope' }, `id=${id}`)).status).toBe(403);
    // A page of another site cannot act even with the token in the form.
    expect((await post(withActions.url, { origin: 'http://evil.example' }, `id=${id}&token=${TOKEN}`)).status).toBe(
      403,
    );
    // No GET has a side effect.
    expect((await fetch(`${withActions.url}outbox/dead-letters/requeue?id=${id}&token=${TOKEN}`)).status).toBe(405);
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox_dead_letter WHERE id = $1`, [
      id,
    ]);
    expect(rows[0].n).toBe(1);

    // The token works from a script too (header), and the answer is a redirect back to the list.
    const done = await post(withActions.url, { 'x-txbox-token': TOKEN }, `id=${id}`);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toMatch(/\/outbox\/dead-letters\?notice=requeued-1$/);
  });

  it('validates every input with a 400 page and sends a strict Content-Security-Policy', async () => {
    const bad = [
      'outbox/dead-letters/not-a-uuid',
      `outbox/dead-letters?offset=-1`,
      `inbox/${group}/dead-letters/1234`,
      'inbox/not-shown-here/dead-letters',
      'inbox/amq.bad/dead-letters',
    ];
    for (const path of bad) {
      const response = await fetch(`${readOnly.url}${path}`);
      expect(response.status, path).toBe(400);
      const text = await response.text();
      expect(text).not.toContain('<script>alert');
    }
    const xss = await fetch(`${readOnly.url}outbox/dead-letters/%3Cscript%3Ealert(1)%3C%2Fscript%3E`);
    expect(xss.status).toBe(400);
    expect(await xss.text()).not.toContain('<script>alert');
    const notice = await fetch(`${readOnly.url}outbox/dead-letters?notice=%3Cb%3Ehacked-1`);
    expect(await notice.text()).not.toContain('hacked');
    const home = await fetch(readOnly.url);
    const csp = home.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(home.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('never shows the database password, and writes a screenshot', async () => {
    const page = await browser.context.newPage();
    await writeMessages(5);
    // Let the 500 ms sampler draw a few points of the charts.
    await waitUntil('the charts have points', async () => {
      await visit(page, withActions.url);
      return (await page.locator('polyline').count()) >= 3;
    });
    expect(await page.getByTestId('target').textContent()).toContain('postgres:***@');
    for (const html of seen) {
      expect(html).not.toContain(PASSWORD);
      expect(html).not.toContain(encodeURIComponent(PASSWORD));
    }
    expect(readOnly.child.stdout.join('\n') + readOnly.child.stderr.join('\n')).not.toContain(PASSWORD);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    await page.close();
  });
});
