// The WAL relay's own options. Everything else is the table relay's (OutboxRelayOptions, parsed
// by its one parser): the same retry policy, unroutable policy, batch size and dead letters
// apply to the stream and to the messages it parks.
import { ConfigurationError } from '@txbox/core';
import { parseOptions } from '@txbox/core/internal';
import { z } from 'zod';
import type { OutboxRelayOptions } from '../relay/relay-options.js';

export interface WalRelayOptions extends Omit<OutboxRelayOptions, 'listen'> {
  /** Replication slot to stream (create it with `createWalSlot`). @defaultValue `txbox_<schema>` */
  slot?: string;
  /** How often a standby instance tries to take the slot over. @defaultValue `1000` */
  standbyRetryMs?: number;
  /** How often the streaming instance reports its confirmed position when idle (under `wal_sender_timeout`). @defaultValue `10000` */
  statusIntervalMs?: number;
}

const walOptionsSchema = z.object({
  slot: z.string().optional(),
  standbyRetryMs: z.number().int().min(50).max(60_000).default(1000),
  statusIntervalMs: z.number().int().min(100).max(60_000).default(10_000),
});

export type ResolvedWalOptions = z.output<typeof walOptionsSchema>;

/** Parses the WAL-only options; the rest are left to the table relay's parser. */
export function resolveWalOptions(options: WalRelayOptions): ResolvedWalOptions {
  if (!options || typeof options !== 'object') throw new ConfigurationError('relay', 'options are required');
  if ('listen' in options && (options as { listen?: unknown }).listen !== undefined) {
    throw new ConfigurationError('relay.listen', 'a WAL relay reads commits from its slot; it does not LISTEN');
  }
  const { slot, standbyRetryMs, statusIntervalMs } = options;
  return parseOptions(walOptionsSchema, { slot, standbyRetryMs, statusIntervalMs }, 'relay');
}
