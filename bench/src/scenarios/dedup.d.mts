// Types of dedup.mjs, for the TypeScript test that runs it.
export interface DedupSettings {
  unique: number;
  copies: number;
  concurrency: number;
  payloadBytes: number;
  costSample?: number;
  /** batch.maxMessages of each consumer design to run; default [1]. */
  designs?: number[];
}

export interface DedupCost {
  concurrency: number;
  duplicate: { messages: number; perSec: number | null; costUs: number | null };
  new: { messages: number; perSec: number | null; costUs: number | null };
  duplicateUs: number | null;
  newUs: number | null;
  duplicateCostVsNew: number | null;
}

export interface DedupDesignResult {
  batchMessages: number;
  unique: number;
  copies: number;
  published: number;
  deliveries: number;
  effects: number;
  distinctEffects: number;
  duplicatesSkipped: number;
  lost: number;
  appliedTwice: number;
  inboxRecords: number;
  retried: number;
  deadLettered: number;
  errors: number;
  msgsPerSec: number | null;
  ms: number;
  restart: { atDeliveries: number; stopMs: number | null; startMs: number | null };
  concurrency: number;
  cpu: unknown;
  cost?: DedupCost;
}

/** The first design's numbers, and every design's under `designs`. */
export interface DedupResult extends DedupDesignResult {
  designs: DedupDesignResult[];
}

export const defaults: { full: DedupSettings; quick: DedupSettings };

export function run(options: {
  settings: DedupSettings;
  databaseUrl?: string;
  amqpUrl?: string;
  log?: (message: string) => void;
}): Promise<DedupResult>;
