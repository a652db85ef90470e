// The RabbitMQ objects of one consumer group, derived from its options (names, delay queues,
// bindings) and declared idempotently. Derived, not hand-built, so a bad name is refused at
// construction and every instance of the group declares the same arguments.
import { ConfigurationError, WIRE_HEADERS } from '@txbox/core';
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
 *
 * A partitioned group (`partitions.count` = P) has no `<group>` queue; instead:
 *
 * | object | default name | purpose |
 * |---|---|---|
 * | partition exchange | `<group>.partitions` | consistent-hash exchange on `x-txbox-partition-key`, bound to the exchange per handled type |
 * | partition queues | `<group>.p0` … `<group>.p<P-1>` | single-active-consumer queues, weight 1 each; delay queues dead-letter back through the partition exchange, so a retry returns to its key's partition |
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
  /** Partitioned groups: the consistent-hash exchange and the partition queues (index = partition). */
  partitions: { exchange: string; queues: string[] } | null;
}

/**
 * The partition exchange and the partition queues of a group whose queue is named `queue` (the one
 * naming rule: the topology, the start-time checks and the admin all use it).
 */
export const partitionNames = {
  exchange: (queue: string) => `${queue}.partitions`,
  queue: (queue: string, index: number) => `${queue}.p${index}`,
};

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
  partitionCount?: number | undefined;
}): GroupTopology {
  const { queue, deadLetterQueue } = groupQueueNames(options.group, options.names);
  const prefix = options.names?.delayQueuePrefix ?? `${queue}.retry`;
  const count = options.partitionCount;
  return {
    exchange: validateAmqpName('exchange name', options.exchange),
    queue,
    deadLetterQueue,
    delayQueues: options.retryDelaysMs.map((delayMs) => ({
      name: validateAmqpName('delay queue name', delayQueueName(prefix, delayMs, options.queueType)),
      delayMs,
    })),
    bindings: [...new Set(options.bindings.map((b) => validateRoutingKey('binding', b)))],
    queueType: options.queueType,
    deliveryLimit: options.deliveryLimit,
    singleActiveConsumer: options.singleActiveConsumer ?? false,
    partitions:
      count === undefined
        ? null
        : {
            exchange: validateAmqpName('partition exchange name', partitionNames.exchange(queue)),
            queues: Array.from({ length: count }, (_, i) =>
              validateAmqpName('partition queue name', partitionNames.queue(queue, i)),
            ),
          },
  };
}

/**
 * Declares everything idempotently (assert* with the same arguments is a no-op). Changing a
 * queue's type or arguments later fails with PRECONDITION_FAILED from RabbitMQ: delete the
 * queue or use new names.
 */
export async function declareTopology(channel: Channel, t: GroupTopology): Promise<void> {
  await channel.assertExchange(t.exchange, 'topic', { durable: true });
  await channel.assertQueue(t.deadLetterQueue, { durable: true, arguments: { ...queueTypeArguments(t) } });
  // Where a delay queue sends a message back when its TTL ends: the queue, or the partition exchange
  // (which hashes the copy's unchanged partition header onto the partition it came from).
  const back = t.partitions
    ? { 'x-dead-letter-exchange': t.partitions.exchange }
    : { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': t.queue };
  if (t.partitions) {
    await declarePartitionExchange(channel, t);
    for (const key of t.bindings) await channel.bindExchange(t.partitions.exchange, t.exchange, key);
    for (let i = 0; i < t.partitions.queues.length; i++) await declarePartitionQueue(channel, t, i);
  } else {
    await channel.assertQueue(t.queue, { durable: true, arguments: workQueueArguments(t) });
  }
  for (const delay of t.delayQueues) {
    await channel.assertQueue(delay.name, { durable: true, arguments: delayQueueArguments(t, delay.delayMs, back) });
  }
  if (!t.partitions) for (const key of t.bindings) await channel.bindQueue(t.queue, t.exchange, key);
}

/**
 * A delay queue's name. A quorum group's delay queues are quorum queues too (a classic queue lives
 * on one node: while that node is down, declaring it fails NOT_FOUND and the group cannot start on
 * the surviving nodes), named with a `.q` suffix: groups created before they were quorum have
 * classic `<prefix>.<delay>ms` queues, which RabbitMQ refuses to re-declare with other arguments
 * (PRECONDITION_FAILED would stop the consumer from starting). Under the new names the old queues
 * are no longer used and drain themselves: their TTL still sends every message back to the group.
 */
export function delayQueueName(prefix: string, delayMs: number, queueType: 'classic' | 'quorum'): string {
  return `${prefix}.${delayMs}ms${queueType === 'quorum' ? '.q' : ''}`;
}

/**
 * A delay queue holds a message for its TTL, then dead-letters it `back`. Quorum delay queues
 * dead-letter at least once (RabbitMQ 3.10+: the message stays until the target queue confirms
 * it, instead of being dropped if the target is unavailable at that moment), which RabbitMQ only
 * honours with `reject-publish` overflow (with the default `drop-head` it falls back to at most once).
 */
function delayQueueArguments(
  t: GroupTopology,
  delayMs: number,
  back: Record<string, unknown>,
): Record<string, unknown> {
  const quorum =
    t.queueType === 'quorum'
      ? { ...queueTypeArguments(t), 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' }
      : {};
  return { 'x-message-ttl': delayMs, ...back, ...quorum };
}

/** Partition `index`'s queue and its binding (weight 1) to the partition exchange; what a partition's channel re-declares. */
export async function declarePartitionQueue(channel: Channel, t: GroupTopology, index: number): Promise<void> {
  const partitions = t.partitions as NonNullable<GroupTopology['partitions']>;
  const queue = partitions.queues[index] as string;
  await channel.assertQueue(queue, { durable: true, arguments: workQueueArguments(t, true) });
  await channel.bindQueue(queue, partitions.exchange, '1');
}

async function declarePartitionExchange(channel: Channel, t: GroupTopology): Promise<void> {
  const partitions = t.partitions as NonNullable<GroupTopology['partitions']>;
  await assertPluginExchange(channel, partitions.exchange, 'x-consistent-hash', {
    // Every txbox producer sets it: the key, or the message id without one.
    'hash-header': WIRE_HEADERS.partitionKey,
  });
}

/**
 * Declares an exchange of a plugin's type. RabbitMQ answers a type it does not know (plugin not
 * enabled) by closing the whole connection (503 COMMAND_INVALID "unknown exchange type"); the
 * declare itself only rejects with "channel ended", so the reason is read from the connection's
 * close and turned into a ConfigurationError naming the plugin. The connection reconnects by itself.
 */
export async function assertPluginExchange(
  channel: Channel,
  name: string,
  type: string,
  args: Record<string, unknown>,
): Promise<void> {
  // amqplib's channel keeps its connection, which emits 'close' with the broker's reason.
  const connection = (channel as unknown as { connection?: NodeJS.EventEmitter }).connection;
  let closedWith: unknown;
  const onClose = (reason: unknown) => {
    closedWith = reason;
  };
  connection?.once('close', onClose);
  try {
    await channel.assertExchange(name, type, { durable: true, arguments: args });
  } catch (error) {
    const reason = String((closedWith as Error | undefined)?.message ?? (error as Error)?.message);
    if (/(unknown|invalid) exchange type/i.test(reason)) {
      throw new ConfigurationError(
        'inbox.partitions',
        `RabbitMQ does not know the ${type} exchange type that partitioned consumption needs; enable its plugin on every node: rabbitmq-plugins enable rabbitmq_consistent_hash_exchange`,
      );
    }
    throw error;
  } finally {
    connection?.off('close', onClose);
  }
}

function queueTypeArguments(t: GroupTopology): Record<string, unknown> {
  return t.queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
}

/** The queue (or a partition queue) that handlers consume. */
function workQueueArguments(t: GroupTopology, partition = false): Record<string, unknown> {
  return {
    ...queueTypeArguments(t),
    // Whatever the broker itself dead-letters (a quorum delivery limit, a reject) lands in
    // the group's dead-letter queue rather than vanishing.
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': t.deadLetterQueue,
    ...(t.queueType === 'quorum' && t.deliveryLimit !== undefined ? { 'x-delivery-limit': t.deliveryLimit } : {}),
    // Per-key order across instances: with competing consumers, two instances can hold
    // messages of one key at once; a single active consumer keeps one in charge. A partition
    // queue always has one: the partition's owner, while the next one stands by.
    ...(t.singleActiveConsumer || partition ? { 'x-single-active-consumer': true } : {}),
  };
}
