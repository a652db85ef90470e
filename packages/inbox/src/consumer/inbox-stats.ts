// What stats() reports: this instance's counts since start, joined with what the inbox table
// says about the group (records kept, oldest record). Its own file so the facade reads as
// wiring and lifecycle; the counts come from settlement's DeliveryCounters.
export interface InboxStats {
  group: string;
  /** Handlers committed by this instance since start. */
  processed: number;
  duplicatesSkipped: number;
  retried: number;
  deadLettered: number;
  /** Messages of unknown type discarded (`onUnknownType: 'discard'`). */
  discarded: number;
  /** Deliveries being handled now or waiting for their key or a handler slot. */
  inFlight: number;
  /** Mean and max handler duration (ms) since start. */
  handlerDurationMs: { mean: number; max: number };
  /**
   * Inbox records kept for the group, and the age of the oldest: redeliveries older than the
   * retention window would run again. `null` once the consumer has stopped and closed the pool it
   * created from a URL, or while PostgreSQL does not answer (the counters above stay readable).
   */
  records: number | null;
  oldestRecordAgeMs: number | null;
  retentionMs: number;
  connected: boolean;
  /** Partitioned groups: the partition count and the partitions this instance consumes now; `null` otherwise. */
  partitions: { count: number; owned: number[] } | null;
}
