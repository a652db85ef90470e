// @ts-check
// Topology deletion for tests, bench and chaos runs (types in topology.d.mts).

/**
 * @param {import('./topology.d.mts').ConsumerTopologyNames | import('./topology.d.mts').TopologyNames} topology
 * @returns {{ queues: readonly string[]; exchanges: readonly string[] }}
 */
function namesOf(topology) {
  if ('deadLetterQueue' in topology) {
    return {
      queues: [
        topology.queue,
        topology.deadLetterQueue,
        ...topology.delayQueues.map((delay) => delay.name),
        ...(topology.partitions?.queues ?? []),
      ],
      exchanges: [topology.exchange, ...(topology.partitions ? [topology.partitions.exchange] : [])],
    };
  }
  return { queues: topology.queues ?? [], exchanges: topology.exchanges ?? [] };
}

/** @type {import('./topology.d.mts').deleteTopology} */
export async function deleteTopology(channel, topology) {
  const { queues, exchanges } = namesOf(topology);
  for (const queue of queues) await channel.deleteQueue(queue).catch(() => {});
  for (const exchange of exchanges) await channel.deleteExchange(exchange).catch(() => {});
}
