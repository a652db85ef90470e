// The RabbitMQ objects of one consumer group, derived from its options (names, delay queues,
// bindings) and declared idempotently. Derived, not hand-built, so a bad name is refused at
// construction and every instance of the group declares the same arguments.
import { validateAmqpName, validateRoutingKey } from '@txbox/core/internal';
import type { Channel } from 'amqplib';

/**
 * The RabbitMQ objects of one consumer group. Default names (each overridable):
 *
 * | object | default name | purpose |
 * |---|---|---|
 * | queue | `<group>` | the group's durable queue, bound to the exchange per handled type |
 * | delay queues | `<group>.retry.<delay>ms` | one per retry step: TTL = delay, then dead-lettered back to the queue |
 * | dead-letter queue | `<group>.dead-letter` | messages that exhausted retries, failed validation or are unknown |
 */
export interface GroupTopology {
  exchange: string;
  queue: string;
  deadLetterQueue: string;
  /** One delay queue per retry step, in order. */
  delayQueues: { name: string; delayMs: number }[];
  /** Routing keys the queue is bound with (the handled types by default). */
  bindings: string[];
  queueType: 'classic' | 'quorum';
  /** Quorum queues only: the broker dead-letters a message redelivered more often (a process crash loop). */
  deliveryLimit: number | undefined;
  /** Only one consumer of the queue receives messages at a time; the others stand by. */
  singleActiveConsumer: boolean;
}

export interface TopologyNames {
  queue?: string;
  deadLetterQueue?: string;
  delayQueuePrefix?: string;
}

/** The queue and dead-letter queue names of a group, by the rules {@link groupTopology} applies. */
export function groupQueueNames(group: string, names?: TopologyNames): { queue: string; deadLetterQueue: string } {
  const queue = validateAmqpName('queue name', names?.queue ?? group);
  return {
    queue,
    deadLetterQueue: validateAmqpName('dead-letter queue name', names?.deadLetterQueue ?? `${queue}.dead-letter`),
  };
}

export function groupTopology(options: {
  group: string;
  exchange: string;
  names?: TopologyNames;
  retryDelaysMs: number[];
  bindings: string[];
  queueType: 'classic' | 'quorum';
  deliveryLimit?: number | undefined;
  singleActiveConsumer?: boolean;
}): GroupTopology {
  const { queue, deadLetterQueue } = groupQueueNames(options.group, options.names);
  const prefix = options.names?.delayQueuePrefix ?? `${queue}.retry`;
  return {
    exchange: validateAmqpName('exchange name', options.exchange),
    queue,
    deadLetterQueue,
    delayQueues: options.retryDelaysMs.map((delayMs) => ({
      name: validateAmqpName('delay queue name', `${prefix}.${delayMs}ms`),
      delayMs,
    })),
    bindings: [...new Set(options.bindings.map((b) => validateRoutingKey('binding', b)))],
    queueType: options.queueType,
    deliveryLimit: options.deliveryLimit,
    singleActiveConsumer: options.singleActiveConsumer ?? false,
  };
}

/**
 * Declares everything idempotently (assert* with the same arguments is a no-op). Changing a
 * queue's type or arguments later fails with PRECONDITION_FAILED from RabbitMQ: delete the
 * queue or use new names.
 */
export async function declareTopology(channel: Channel, t: GroupTopology): Promise<void> {
  const typeArgs = t.queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
  await channel.assertExchange(t.exchange, 'topic', { durable: true });
  await channel.assertQueue(t.deadLetterQueue, { durable: true, arguments: { ...typeArgs } });
  await channel.assertQueue(t.queue, {
    durable: true,
    arguments: {
      ...typeArgs,
      // Whatever the broker itself dead-letters (a quorum delivery limit, a reject) lands in
      // the group's dead-letter queue rather than vanishing.
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': t.deadLetterQueue,
      ...(t.queueType === 'quorum' && t.deliveryLimit !== undefined ? { 'x-delivery-limit': t.deliveryLimit } : {}),
      // Per-key order across instances: with competing consumers, two instances can hold
      // messages of one key at once; a single active consumer keeps one in charge.
      ...(t.singleActiveConsumer ? { 'x-single-active-consumer': true } : {}),
    },
  });
  for (const delay of t.delayQueues) {
    await channel.assertQueue(delay.name, {
      durable: true,
      arguments: {
        'x-message-ttl': delay.delayMs,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': t.queue,
      },
    });
  }
  for (const key of t.bindings) await channel.bindQueue(t.queue, t.exchange, key);
}
