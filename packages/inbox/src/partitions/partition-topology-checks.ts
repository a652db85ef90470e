// What a partitioned group checks on the broker before it declares: leftovers of an earlier
// configuration that would strand messages. The group's old single queue stays bound to the
// exchange and keeps filling; partition queues above a lowered count stay bound to the partition
// exchange and keep receiving their keys. Both are refused with what to do, not left to fill up.
import { type AmqpConnection, ConfigurationError } from '@txbox/core';
import { inspectQueue } from '../admin/dead-letter-queue.js';
import { type GroupTopology, partitionNames } from '../topology/topology.js';

/** A throwaway channel per passive check (a 404 closes it). */
function opener(amqp: AmqpConnection) {
  return async () => {
    const channel = await amqp.createConfirmChannel({ retry: false });
    channel.on('error', () => {});
    return channel;
  };
}

export async function checkPartitionLeftovers(amqp: AmqpConnection, t: GroupTopology): Promise<void> {
  const partitions = t.partitions as NonNullable<GroupTopology['partitions']>;
  const open = opener(amqp);
  const single = (await inspectQueue(open, t.queue))?.messages;
  if (single !== undefined) {
    throw new ConfigurationError(
      'inbox.partitions',
      `group queue ${t.queue} (${single} messages) still exists from before partitions were enabled: it stays bound to ${t.exchange} and would keep filling. Stop the old instances, let them drain it, then delete it and its delay queues (${t.delayQueues.map((d) => d.name).join(', ')}), or give the partitioned group new names (names.queue)`,
    );
  }
  const count = partitions.queues.length;
  for (let i = count; ; i++) {
    const queue = partitionNames.queue(t.queue, i);
    const depth = (await inspectQueue(open, queue))?.messages;
    if (depth === undefined) return;
    const channel = await amqp.createChannel({ retry: false });
    try {
      // Above the count: no longer fed, so no key lands where nobody consumes.
      await channel.unbindQueue(queue, partitions.exchange, '1');
    } finally {
      await channel.close().catch(() => {});
    }
    if (depth > 0) {
      throw new ConfigurationError(
        'inbox.partitions',
        `partition queue ${queue} holds ${depth} messages from a larger partitions.count than ${count}: it is unbound now, but nobody consumes it. Consume it with the old count until it is empty, or move its messages, then delete it`,
      );
    }
  }
}
