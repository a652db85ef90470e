// OpenTelemetry end to end, with the SDK's in-memory exporters: one trace from an HTTP request
// through the writer, the relay and two hops of handlers (billing's handler writes a message
// shipping consumes), and the outbox and inbox metrics with the values the run produced.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, metrics, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { defineMessage, encodeAmqpMessage, NonRetryableError } from '@txbox/core';
import { createConsumer, defineHandler, type InboxConsumer, migrateInbox } from '@txbox/inbox';
import { createOutbox, createRelay, migrateOutbox, type OutboxRelay } from '@txbox/outbox';
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

const OrderPlaced = defineMessage({
  type: 'orders.order-placed',
  version: 1,
  schema: z.object({ orderId: z.string() }),
});
const OrderArchived = defineMessage({
  type: 'orders.order-archived',
  version: 1,
  schema: z.object({ orderId: z.string() }),
});
const PaymentSucceeded = defineMessage({
  type: 'billing.payment-succeeded',
  version: 1,
  schema: z.object({ orderId: z.string() }),
});

/** A reader the test collects from when it wants (no export interval). */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const orders = useTestSchema('otel_orders');
const billing = useTestSchema('otel_billing');
const shipping = useTestSchema('otel_shipping');
const amqp = useAmqp();
const exchange = uniqueName('otel_events');
const spans = new InMemorySpanExporter();
const reader = new TestReader();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const meterProvider = new MeterProvider({ readers: [reader] });
const contextManager = new AsyncLocalStorageContextManager();
const ordersOutbox = createOutbox({ contracts: [OrderPlaced, OrderArchived], schema: orders.schema, exchange });
const billingOutbox = createOutbox({ contracts: [PaymentSucceeded], schema: billing.schema, exchange });
let server: Server;
let url: string;
let relays: OutboxRelay[] = [];
let consumers: InboxConsumer[] = [];
let shippingAttempts = 0;

beforeAll(async () => {
  // The application's OpenTelemetry setup, before txbox starts (as with the Node SDK).
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  await migrateOutbox({ database: orders.databaseUrl, schema: orders.schema });
  await migrateOutbox({ database: billing.databaseUrl, schema: billing.schema });
  await migrateInbox({ database: billing.databaseUrl, schema: billing.schema });
  await migrateInbox({ database: shipping.databaseUrl, schema: shipping.schema });
  const common = { amqp: testAmqpUrl(), exchange };
  consumers = [
    createConsumer({
      ...common,
      group: uniqueName('otel_billing'),
      database: billing.databaseUrl,
      schema: billing.schema,
      outbox: billingOutbox,
      handlers: [
        defineHandler(OrderPlaced, async (order, ctx) => {
          if (order.orderId === 'refused') throw new NonRetryableError('card declined');
          await ctx.outbox.add(PaymentSucceeded.create({ orderId: order.orderId }));
        }),
      ],
    }),
    createConsumer({
      ...common,
      group: uniqueName('otel_shipping'),
      database: shipping.databaseUrl,
      schema: shipping.schema,
      retry: { delaysMs: [100] },
      handlers: [
        defineHandler(PaymentSucceeded, async () => {
          shippingAttempts += 1;
          if (shippingAttempts === 1) throw new Error('label printer warming up');
        }),
      ],
    }),
  ];
  for (const c of consumers) await c.start();
  relays = [
    createRelay({ ...common, database: orders.databaseUrl, schema: orders.schema, onUnroutable: 'dead-letter' }),
    createRelay({ ...common, database: billing.databaseUrl, schema: billing.schema }),
  ];
  for (const r of relays) await r.start();

  // A plain node:http service: the request runs in a SERVER span; its transaction writes the event.
  const tracer = trace.getTracer('orders-http');
  server = createServer((req, res) => {
    tracer.startActiveSpan(`POST ${req.url}`, { kind: SpanKind.SERVER }, async (span) => {
      const client = await orders.pool.connect();
      try {
        await client.query('BEGIN');
        const orderId = (req.url ?? '').split('/').pop() as string;
        const id = await ordersOutbox.add(client, OrderPlaced.create({ orderId }));
        await client.query('COMMIT');
        res.end(id);
      } finally {
        client.release();
        span.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.close();
  for (const r of relays) await r.stop();
  for (const c of consumers) {
    await c.stop();
    await deleteTopology(amqp.channel, c.topology);
  }
  trace.disable();
  metrics.disable();
  context.disable();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

function metricValues(
  collected: ResourceMetrics,
  name: string,
): { attributes: Record<string, unknown>; value: unknown }[] {
  const found = collected.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (found?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value }));
}

function sum(collected: ResourceMetrics, name: string, group?: string): number {
  return metricValues(collected, name)
    .filter((p) => group === undefined || p.attributes['messaging.consumer.group.name'] === group)
    .reduce((n, p) => n + (p.value as number), 0);
}

describe('OpenTelemetry', () => {
  it('one connected trace from the HTTP request through the writer, the relay and two hops of handlers', async () => {
    const [billingConsumer, shippingConsumer] = consumers as [InboxConsumer, InboxConsumer];
    const response = await fetch(`${url}/orders/o-1`, { method: 'POST' });
    const messageId = await response.text();
    await waitUntil(
      'shipping to apply the payment, after one retry',
      async () => (await shippingConsumer.stats()).processed === 1,
    );

    const all = spans.getFinishedSpans();
    const http = all.find((s) => s.name === 'POST /orders/o-1') as ReadableSpan;
    const traceId = http.spanContext().traceId;
    const inTrace = all.filter((s) => s.spanContext().traceId === traceId);
    const byId = new Map(inTrace.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (s: ReadableSpan) => byId.get(s.parentSpanContext?.spanId ?? '');
    const one = (name: string, where: (s: ReadableSpan) => boolean = () => true) => {
      const found = inTrace.filter((s) => s.name === name && where(s));
      expect(found, name).toHaveLength(1);
      return found[0] as ReadableSpan;
    };
    const isMessage = (id: string) => (s: ReadableSpan) => s.attributes['messaging.message.id'] === id;

    // Hop 0: the request writes OrderPlaced: a create span, child of the request.
    const createOrder = one(`create ${exchange}`, isMessage(messageId));
    expect(createOrder.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(createOrder)).toBe(http);
    expect(createOrder.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'create',
      'messaging.destination.name': exchange,
      'messaging.rabbitmq.destination.routing_key': OrderPlaced.type,
    });
    // The relay's send span: child of and linked to the creation context, with the time waited.
    const sendOrder = one(`send ${exchange}`, isMessage(messageId));
    expect(sendOrder.kind).toBe(SpanKind.CLIENT);
    expect(parentOf(sendOrder)).toBe(createOrder);
    expect(sendOrder.links.map((l) => l.context.spanId)).toEqual([createOrder.spanContext().spanId]);
    expect(sendOrder.attributes['messaging.operation.type']).toBe('send');
    expect(sendOrder.attributes['txbox.outbox.wait_ms']).toBeGreaterThanOrEqual(0);
    expect(sendOrder.attributes['txbox.outbox.attempt']).toBe(1);

    // Hop 1: billing processes it as a child of the producer's context, and writes PaymentSucceeded.
    const processOrder = one(`process ${billingConsumer.topology.queue}`, isMessage(messageId));
    expect(processOrder.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(processOrder)).toBe(createOrder);
    expect(processOrder.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': billingConsumer.group,
      'txbox.inbox.attempt': 1,
    });
    const createPayment = one(`create ${exchange}`, (s) => parentOf(s) === processOrder);
    const paymentId = createPayment.attributes['messaging.message.id'] as string;
    expect(parentOf(one(`send ${exchange}`, isMessage(paymentId)))).toBe(createPayment);

    // Hop 2: shipping fails once, then succeeds: two process spans, the second with its retry.
    const processPayment = inTrace.filter((s) => s.name === `process ${shippingConsumer.topology.queue}`);
    expect(processPayment).toHaveLength(2);
    for (const s of processPayment) expect(parentOf(s)).toBe(createPayment);
    const [failed, retried] = processPayment.sort(
      (a, b) => Number(a.attributes['txbox.inbox.attempt']) - Number(b.attributes['txbox.inbox.attempt']),
    );
    expect(failed?.status.code).toBe(2);
    expect(failed?.events.map((e) => e.name)).toContain('exception');
    expect(retried?.attributes['txbox.inbox.attempt']).toBe(2);
    expect(retried?.events.map((e) => e.name)).toEqual(['txbox.retry']);
    expect(retried?.status.code).not.toBe(2);
    // Nothing of this trace lost its way: every span but the request has its parent in the trace.
    for (const s of inTrace) if (s !== http) expect(parentOf(s), s.name).toBeDefined();

    // A duplicate delivery of OrderPlaced: a process span of its own with the duplicate marked.
    const { content, properties } = encodeAmqpMessage({
      id: messageId,
      type: OrderPlaced.type,
      version: 1,
      occurredAt: new Date(),
      key: null,
      correlationId: null,
      causationId: null,
      traceparent: `00-${traceId}-${createOrder.spanContext().spanId}-01`,
      tracestate: null,
      headers: {},
      payload: { orderId: 'o-1' },
    });
    amqp.channel.publish(exchange, OrderPlaced.type, content, properties);
    await waitUntil(
      'billing to skip the duplicate',
      async () => (await billingConsumer.stats()).duplicatesSkipped === 1,
    );
    const duplicate = spans
      .getFinishedSpans()
      .find(
        (s) => s.attributes['txbox.inbox.duplicate'] === true && s.attributes['messaging.message.id'] === messageId,
      );
    expect(duplicate?.events.map((e) => e.name)).toEqual(['txbox.duplicate']);
    expect(duplicate?.spanContext().traceId).toBe(traceId);
    expect(duplicate?.parentSpanContext?.spanId).toBe(createOrder.spanContext().spanId);
  });

  it('records the outbox and inbox metrics with the values the run produced', async () => {
    const [billingConsumer, shippingConsumer] = consumers as [InboxConsumer, InboxConsumer];
    const [ordersRelay] = relays as [OutboxRelay];
    // Billing refuses one order (dead letter); orders writes one message nobody is bound to
    // (unroutable: a publish failure, then an outbox dead letter); and a key held back by a
    // delayed message leaves one message due and waiting.
    await fetch(`${url}/orders/refused`, { method: 'POST' });
    await waitUntil(
      'billing to dead-letter the refused order',
      async () => (await billingConsumer.stats()).deadLettered === 1,
    );
    const client = await orders.pool.connect();
    try {
      await client.query('BEGIN');
      await ordersOutbox.add(client, [
        OrderArchived.create({ orderId: 'nobody-listens' }),
        OrderArchived.create({ orderId: 'later' }, { key: 'order:held', delayMs: 3_600_000 }),
        OrderArchived.create({ orderId: 'held' }, { key: 'order:held' }),
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await waitUntil(
      'the unroutable message to be dead-lettered',
      async () => (await ordersRelay.stats()).deadLetters === 1,
    );
    await waitUntil(
      'the held message to be due for a while',
      async () => (await ordersRelay.stats()).oldestDueAgeMs > 0,
    );

    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    // Outbox: OrderPlaced ×2 (o-1, refused) by the orders relay and PaymentSucceeded by billing's.
    expect(sum(resourceMetrics, 'txbox.outbox.published')).toBe(3);
    expect(sum(resourceMetrics, 'txbox.outbox.publish_failures')).toBe(1);
    expect(sum(resourceMetrics, 'txbox.outbox.dead_lettered')).toBe(1);
    const gauge = (name: string) =>
      metricValues(resourceMetrics, name).find((p) => p.attributes['txbox.outbox.schema'] === orders.schema)?.value;
    expect(gauge('txbox.outbox.pending')).toBe(2);
    expect(gauge('txbox.outbox.due')).toBe(1);
    expect(gauge('txbox.outbox.dead_letters')).toBe(1);
    expect(gauge('txbox.outbox.oldest_due_age')).toBeGreaterThan(0);
    // Inbox, per consumer group.
    expect(sum(resourceMetrics, 'txbox.inbox.processed', billingConsumer.group)).toBe(1);
    expect(sum(resourceMetrics, 'txbox.inbox.duplicates', billingConsumer.group)).toBe(1);
    expect(sum(resourceMetrics, 'txbox.inbox.dead_letters', billingConsumer.group)).toBe(1);
    expect(sum(resourceMetrics, 'txbox.inbox.processed', shippingConsumer.group)).toBe(1);
    expect(sum(resourceMetrics, 'txbox.inbox.retries', shippingConsumer.group)).toBe(1);
    const durations = metricValues(resourceMetrics, 'txbox.inbox.handler.duration');
    const count = (group: string) => {
      const point = durations.find((p) => p.attributes['messaging.consumer.group.name'] === group);
      return (point?.value as { count: number } | undefined)?.count;
    };
    expect(count(billingConsumer.group)).toBe(1);
    expect(count(shippingConsumer.group)).toBe(1);
  });
});
