import type { OutboxTables } from './outbox-tables.js';

/**
 * The statements of WAL mode, as pure functions of the resolved names. Slot and publication
 * names are validated by walSlotNames (wal/wal-slot.ts) before they reach any text here.
 */

/**
 * Emits one transactional logical message per element of $2 (text[]) under prefix $1, in
 * array order (a function scan yields its rows in order, and nothing here re-sorts them).
 */
export function emitMessagesSql(): string {
  return 'SELECT count(pg_logical_emit_message(true, $1::text, m)) FROM unnest($2::text[]) AS m';
}

/** One message ($2 text) under prefix $1: the common case, without building an array. */
export function emitMessageSql(): string {
  return 'SELECT pg_logical_emit_message(true, $1::text, $2::text)';
}

/**
 * Parks stream messages in the outbox table, in the order given ($1 JSON array), where the
 * table relay's claim publishes them with its per-key order, retries and dead letters. Each
 * element carries its attempts so far (0 when it only waits behind its key), the last error
 * and attempt history, and the delay before it is due.
 */
export function parkMessagesSql(t: OutboxTables): string {
  return `INSERT INTO ${t.outbox} (id, type, version, ordering_key, exchange, routing_key, payload, headers,
  correlation_id, causation_id, traceparent, tracestate, occurred_at, available_at, attempts, last_error,
  attempt_history)
SELECT id, type, version, ordering_key, exchange, routing_key, payload::jsonb, headers,
  correlation_id, causation_id, traceparent, tracestate, occurred_at,
  now() + make_interval(secs => delay_ms / 1000.0), attempts, last_error, attempt_history
FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (id uuid, type text, version int, ordering_key text,
  exchange text, routing_key text, payload text, headers jsonb, correlation_id text, causation_id text,
  traceparent text, tracestate text, occurred_at timestamptz, delay_ms bigint, attempts int, last_error text,
  attempt_history jsonb)) WITH ORDINALITY AS m(id, type, version, ordering_key, exchange, routing_key, payload,
  headers, correlation_id, causation_id, traceparent, tracestate, occurred_at, delay_ms, attempts, last_error,
  attempt_history, ord)
ORDER BY ord
ON CONFLICT (id) DO NOTHING
RETURNING seq, id`;
}

/** Which of the keys $1 (text[]) have a message parked (unpublished) in the outbox table. */
export function parkedKeysSql(t: OutboxTables): string {
  return `SELECT DISTINCT ordering_key FROM ${t.outbox}
WHERE ordering_key = ANY($1::text[]) AND published_at IS NULL`;
}

/** The slot $1 of this database: its plugin, whether a connection streams it, and its lag. */
export function slotStateSql(): string {
  return `SELECT plugin, slot_type, active, confirmed_flush_lsn::text AS confirmed_flush_lsn,
  pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag_bytes,
  wal_status
FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`;
}

export function createSlotSql(): string {
  return `SELECT slot_name FROM pg_create_logical_replication_slot($1, 'pgoutput')`;
}

export function dropSlotSql(): string {
  return 'SELECT pg_drop_replication_slot($1)';
}

/** An empty publication: pgoutput needs one, and logical messages are sent whatever it lists. */
export function createPublicationSql(quotedPublication: string): string {
  return `CREATE PUBLICATION ${quotedPublication}`;
}

export function dropPublicationSql(quotedPublication: string): string {
  return `DROP PUBLICATION IF EXISTS ${quotedPublication}`;
}

export function publicationExistsSql(): string {
  return 'SELECT 1 FROM pg_publication WHERE pubname = $1';
}
