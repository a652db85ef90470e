// What a partitioned group checks on the broker before it declares: leftovers of an earlier
// configuration that would strand messages. The group's old single queue stays bound to the
// exchange and keeps filling; partition queues above a lowered count stay bound to the partition
// exchange and keep receiving their keys. Both are refused with what to do, not left to fill up.
import { type AmqpConnection, ConfigurationError } from '@txbox/core';
import type { GroupTopology } from '../topology/topology.js';

/** The depth of a queue, or undefined when it does not exist (a passive check on a throwaway channel: a 404 closes it). */
async function depthOf(amqp: AmqpConnection, queue: string): Promise<number | undefined> {
  const channel = await amqp.createChannel({ retry: false });
  channel.on('error', () => {});
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } catch (error) {
    if (/NOT_FOUND|404/.test(String((error as Error)?.message))) return undefined;
    throw error;
  } finally {
    await channel.close().catch(() => {});
  }
}

export async function checkPartitionLeftovers(amqp: AmqpConnection, t: GroupTopology): Promise<void> {
  const partitions = t.partitions as NonNullable<GroupTopology['partitions']>;
  const single = await depthOf(amqp, t.queue);
  if (single !== undefined) {
    throw new ConfigurationError(
      'inbox.partitions',
      `group queue ${t.queue} (${single} messages) still exists from before partitions were enabled: it stays bound to ${t.exchange} and would keep filling. Stop the old instances, let them drain it, then delete it and its delay queues (${t.delayQueues.map((d) => d.name).join(', ')}), or give the partitioned group new names (names.queue)`,
    );
  }
  const count = partitions.queues.length;
  const base = partitions.queues[0]?.replace(/\.p0$/, '') ?? t.queue;
  for (let i = count; ; i++) {
    const queue = `${base}.p${i}`;
    const depth = await depthOf(amqp, queue);
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
