import { validateSqlIdentifier } from '@txbox/core/internal';

/** Quoted, validated names of everything the outbox SQL touches, derived from the schema. */
export interface OutboxTables {
  schema: string;
  outbox: string;
  deadLetter: string;
  leaseTokenSequence: string;
  /** Relays awake now, and until when (see awakeRelaySql). */
  relayAwake: string;
  /** LISTEN/NOTIFY channel (quoted for LISTEN; the raw name is `notifyChannelName`). */
  notifyChannel: string;
  notifyChannelName: string;
}

export function outboxTables(schema: string): OutboxTables {
  validateSqlIdentifier('schema name', schema);
  const channelName = `${schema}_outbox`;
  return {
    schema,
    outbox: `"${schema}"."outbox"`,
    deadLetter: `"${schema}"."outbox_dead_letter"`,
    leaseTokenSequence: `"${schema}"."outbox_lease_token"`,
    relayAwake: `"${schema}"."outbox_relay_awake"`,
    notifyChannel: `"${channelName}"`,
    notifyChannelName: channelName,
  };
}
