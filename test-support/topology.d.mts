import type { Channel } from 'amqplib';

/** The names a consumer group declares (structurally what `@txbox/inbox`'s `GroupTopology` has). */
export interface ConsumerTopologyNames {
  readonly queue: string;
  readonly deadLetterQueue: string;
  readonly delayQueues: readonly { readonly name: string }[];
  readonly exchange: string;
  /** A partitioned group's partition exchange and queues. */
  readonly partitions?: { readonly exchange: string; readonly queues: readonly string[] } | null;
}

/** Queues and exchanges a test, bench or chaos run declared. */
export interface TopologyNames {
  readonly queues?: readonly string[];
  readonly exchanges?: readonly string[];
}

/**
 * Deletes the queues, then the exchanges (the broker is shared, so a run removes what it declared).
 * Best effort: a name already gone, or a channel already closed, is not an error.
 */
export function deleteTopology(channel: Channel, topology: ConsumerTopologyNames | TopologyNames): Promise<void>;
