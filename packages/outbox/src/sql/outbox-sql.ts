import type { OutboxTables } from './outbox-tables.js';

/**
 * Every statement the outbox runs, as pure functions of the resolved table names. Values are
 * always bound parameters; only validated, quoted identifiers are interpolated.
 */

/** Bound parameters per message in {@link insertMessagesSql}, in this order. */
export const INSERT_COLUMNS = [
  'id',
  'type',
  'version',
  'ordering_key',
  'exchange',
  'routing_key',
  'payload',
  'headers',
  'correlation_id',
  'causation_id',
  'traceparent',
  'tracestate',
  'delay_ms',
] as const;

const INSERT_CASTS = [
  'uuid',
  'text',
  'int',
  'text',
  'text',
  'text',
  'jsonb',
  'jsonb',
  'text',
  'text',
  'text',
  'text',
  'bigint',
];

/**
 * A writer skips its NOTIFY while some relay is awake for at least this much longer: its
 * transaction is expected to commit within this time of the insert, so that the relay's last
 * poll of its awake window (taken after the window ends) sees the row. A transaction held open
 * longer than this after `outbox.add` may wait for the relay's next poll instead of waking it.
 */
export const WAKE_MARGIN_MS = 1000;

/**
 * Inserts `rows` messages in one statement: {@link INSERT_COLUMNS} parameters per message,
 * then, with `lockKeys`, one `text[]` of the batch's distinct ordering keys (sorted), then,
 * with `notify`, the channel name.
 *
 * Before any row gets its seq, the statement takes a transaction-level advisory lock for each
 * ordering key (sorted, so two batches never lock in opposite orders): a second transaction
 * writing the same key waits until the first commits or rolls back, so seq order within a
 * key is commit order. The locks and the NOTIFY are uncorrelated sub-selects, which
 * PostgreSQL evaluates once, before producing the first row (an InitPlan).
 *
 * The NOTIFY is sent only when no relay is awake for at least WAKE_MARGIN_MS more (see
 * markRelayAwakeSql): an awake relay polls every few milliseconds and finds the row anyway, and
 * PostgreSQL serializes the commits of notifying transactions (a lock held through the commit's
 * WAL flush), which under concurrent writes costs more than the row itself.
 *
 * A plain VALUES list (rather than one JSON document unpacked with jsonb_to_recordset) keeps
 * the writer's cost per transaction close to that of the domain insert it accompanies.
 */
export function insertMessagesSql(
  t: OutboxTables,
  rows: number,
  options: { lockKeys: boolean; notify: boolean },
): string {
  const width = INSERT_COLUMNS.length;
  const values = Array.from({ length: rows }, (_, r) => {
    const params = INSERT_CASTS.map((cast, c) => `$${r * width + c + 1}::${cast}`);
    return `(${params.join(', ')}, ${r})`;
  });
  let next = rows * width + 1;
  const conditions: string[] = [];
  if (options.lockKeys) {
    conditions.push(
      `(SELECT count(pg_advisory_xact_lock(hashtext(${literal(t.outbox)}), hashtext(k))) FROM unnest($${next++}::text[]) AS k) >= 0`,
    );
  }
  if (options.notify) {
    conditions.push(
      `(SELECT count(*) FROM (SELECT pg_notify($${next++}, '') WHERE NOT EXISTS (
    SELECT 1 FROM ${t.relayAwake} WHERE awake_until > clock_timestamp() + interval '${WAKE_MARGIN_MS} milliseconds')) AS n) >= 0`,
    );
  }
  return `INSERT INTO ${t.outbox} (id, type, version, ordering_key, exchange, routing_key, payload, headers,
  correlation_id, causation_id, traceparent, tracestate, available_at)
SELECT id, type, version, ordering_key, exchange, routing_key, payload, headers,
  correlation_id, causation_id, traceparent, tracestate,
  CASE WHEN delay_ms > 0 THEN now() + make_interval(secs => delay_ms / 1000.0) ELSE now() END
FROM (VALUES ${values.join(',\n  ')})
  AS m(${INSERT_COLUMNS.join(', ')}, ord)${conditions.length > 0 ? `\nWHERE ${conditions.join('\n  AND ')}` : ''}
ORDER BY ord`;
}

/**
 * Relay $1 is awake for $2 more milliseconds: it promises to poll every few milliseconds until
 * then and once more after. Returns how many milliseconds are left once the row is written
 * (measured after the write, so the relay's own deadline never ends before the one writers see).
 */
export function markRelayAwakeSql(t: OutboxTables): string {
  return `INSERT INTO ${t.relayAwake} (relay_id, awake_until)
VALUES ($1, clock_timestamp() + make_interval(secs => $2::float8 / 1000.0))
ON CONFLICT (relay_id) DO UPDATE SET awake_until = EXCLUDED.awake_until
RETURNING extract(epoch FROM awake_until - clock_timestamp()) * 1000 AS remaining_ms`;
}

/** Relay $1 is not awake any more (it stops); rows of relays gone for an hour go too. */
export function clearRelayAwakeSql(t: OutboxTables): string {
  return `DELETE FROM ${t.relayAwake} WHERE relay_id = $1 OR awake_until < now() - interval '1 hour'`;
}

/**
 * Whether any message is due and unleased (one index probe, no lock): an idle relay asks this
 * before a claim, which takes a lock and a transaction of three round trips. A row committed after
 * the probe is found by the next poll, as it would be after an empty claim.
 */
export function anyClaimableSql(t: OutboxTables): string {
  return `SELECT EXISTS (SELECT 1 FROM ${t.outbox} o
  WHERE o.published_at IS NULL AND o.available_at <= now()
    AND (o.lease_expires_at IS NULL OR o.lease_expires_at <= now())) AS any`;
}

/** The per-transaction lock that serializes claims across relays (see claimBatchSql). */
export function claimLockSql(t: OutboxTables): string {
  return `SELECT pg_advisory_xact_lock(hashtext(${literal(t.outbox)}), 0)`;
}

/**
 * Leases up to about $1 due messages to owner $2 for $3 milliseconds, under a fresh fencing token.
 *
 * Per-key order: a keyed message may be claimed only if every older unpublished message of
 * its key is claimed in the same batch (the relay publishes a batch in seq order).
 *  - `due` walks due, unleased rows by due time (index outbox_unpublished_due), so delayed
 *    and retrying rows are never scanned however many there are. It skips keys blocked by
 *    an older message that is leased or not yet due, so LIMIT counts useful rows.
 *  - `heads` adds the older due siblings of the keys in `due` that fell outside it: a message
 *    that was retried becomes due later than the newer messages of its key, so without this
 *    step those keys could never be claimed (a livelock under a backlog).
 *  - `claimable` drops a keyed candidate whose older sibling is still missing — skipped as
 *    locked (a relay settling it late, after its lease expired; a concurrent claim) or cut
 *    by LIMIT — since that sibling may yet be published by someone else, or later. It also
 *    drops the candidates behind an older sibling that is being retried (attempts > 0): a retry
 *    goes out alone for its key, so that if it fails again, nothing newer of its key is out.
 * Both scans read committed state, and SKIP LOCKED hides rows another transaction is changing
 * right now. Claims run after claimLockSql in the same transaction, on a READ COMMITTED
 * snapshot taken after the lock, so each claim sees every earlier claim's leases.
 */
export function claimBatchSql(t: OutboxTables): string {
  const claimableRow = (alias: string) =>
    `${alias}.published_at IS NULL AND ${alias}.available_at <= now()
    AND (${alias}.lease_expires_at IS NULL OR ${alias}.lease_expires_at <= now())`;
  return `WITH token AS (SELECT nextval(${literal(t.leaseTokenSequence)}) AS value),
due AS (
  SELECT o.seq, o.ordering_key, o.attempts FROM ${t.outbox} o
  WHERE ${claimableRow('o')}
    AND (o.ordering_key IS NULL OR NOT EXISTS (
      SELECT 1 FROM ${t.outbox} p
      WHERE p.ordering_key = o.ordering_key AND p.published_at IS NULL AND p.seq < o.seq
        AND (p.available_at > now() OR (p.lease_expires_at IS NOT NULL AND p.lease_expires_at > now()))))
  ORDER BY o.available_at, o.seq
  LIMIT $1
  FOR UPDATE SKIP LOCKED
),
heads AS (
  SELECT h.seq, h.ordering_key, h.attempts FROM ${t.outbox} h
  WHERE h.ordering_key IN (SELECT ordering_key FROM due WHERE ordering_key IS NOT NULL)
    AND ${claimableRow('h')}
    AND h.seq < (SELECT max(d.seq) FROM due d WHERE d.ordering_key = h.ordering_key)
    AND h.seq NOT IN (SELECT seq FROM due)
  ORDER BY h.seq
  LIMIT $1
  FOR UPDATE SKIP LOCKED
),
candidates AS (
  SELECT seq, ordering_key, attempts FROM due UNION ALL SELECT seq, ordering_key, attempts FROM heads
),
claimable AS (
  SELECT c.seq FROM candidates c
  WHERE c.ordering_key IS NULL OR (NOT EXISTS (
    SELECT 1 FROM ${t.outbox} p
    WHERE p.ordering_key = c.ordering_key AND p.published_at IS NULL AND p.seq < c.seq
      AND p.seq NOT IN (SELECT seq FROM candidates))
    AND NOT EXISTS (
      SELECT 1 FROM candidates r WHERE r.ordering_key = c.ordering_key AND r.seq < c.seq AND r.attempts > 0))
)
UPDATE ${t.outbox} o
SET lease_owner = $2, lease_token = token.value,
    lease_expires_at = now() + make_interval(secs => $3::bigint / 1000.0)
FROM claimable c, token
WHERE o.seq = c.seq
RETURNING o.seq, o.id, o.type, o.version, o.ordering_key, o.exchange, o.routing_key, o.payload::text AS payload,
  o.headers, o.correlation_id, o.causation_id, o.traceparent, o.tracestate, o.occurred_at, o.attempts,
  o.lease_token`;
}

/** Deletes published rows ($1 seqs) still held under lease token $2. */
export function deletePublishedSql(t: OutboxTables): string {
  return `DELETE FROM ${t.outbox} WHERE seq = ANY($1::bigint[]) AND lease_token = $2`;
}

/** Keeps published rows ($1 seqs) with published_at set, if still held under lease token $2. */
export function markPublishedSql(t: OutboxTables): string {
  return `UPDATE ${t.outbox}
SET published_at = now(), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE seq = ANY($1::bigint[]) AND lease_token = $2`;
}

/**
 * Schedules retries: $1 JSON array of {seq, delay_ms, error, entry}; lease token $2.
 * Appends the attempt to the history and releases the lease.
 */
export function scheduleRetriesSql(t: OutboxTables): string {
  return `UPDATE ${t.outbox} o
SET attempts = o.attempts + 1,
    last_error = r.error,
    attempt_history = o.attempt_history || jsonb_build_array(r.entry),
    available_at = now() + make_interval(secs => r.delay_ms / 1000.0),
    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
FROM jsonb_to_recordset($1::jsonb) AS r(seq bigint, delay_ms bigint, error text, entry jsonb)
WHERE o.seq = r.seq AND o.lease_token = $2`;
}

/**
 * Moves messages to the dead-letter table: $1 JSON array of {seq, error, entry, reason};
 * lease token $2 (null to skip the fencing check, for admin use).
 */
export function deadLetterSql(t: OutboxTables): string {
  return `WITH r AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(seq bigint, error text, entry jsonb, reason text)
), moved AS (
  DELETE FROM ${t.outbox} o USING r
  WHERE o.seq = r.seq AND ($2::bigint IS NULL OR o.lease_token = $2)
  RETURNING o.*, r.error AS new_error, r.entry AS new_entry, r.reason AS new_reason
)
INSERT INTO ${t.deadLetter} (id, seq, type, version, ordering_key, exchange, routing_key, payload, headers,
  correlation_id, causation_id, traceparent, tracestate, occurred_at, attempts, last_error, attempt_history, reason)
SELECT id, seq, type, version, ordering_key, exchange, routing_key, payload, headers,
  correlation_id, causation_id, traceparent, tracestate, occurred_at, attempts + 1, new_error,
  attempt_history || jsonb_build_array(new_entry), new_reason
FROM moved
ON CONFLICT (id) DO NOTHING`;
}

/** Releases leases held under token $1 without counting an attempt (graceful stop). */
export function releaseLeasesSql(t: OutboxTables): string {
  return `UPDATE ${t.outbox} SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE lease_token = ANY($1::bigint[]) AND published_at IS NULL`;
}

/** Deletes up to $2 published rows older than $1 ms. */
export function deleteOldPublishedSql(t: OutboxTables): string {
  return `DELETE FROM ${t.outbox} WHERE seq IN (
  SELECT seq FROM ${t.outbox}
  WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1::bigint / 1000.0)
  ORDER BY published_at LIMIT $2)`;
}

/** Deletes up to $2 dead letters older than $1 ms. */
export function deleteOldDeadLettersSql(t: OutboxTables): string {
  return `DELETE FROM ${t.deadLetter} WHERE id IN (
  SELECT id FROM ${t.deadLetter}
  WHERE dead_lettered_at < now() - make_interval(secs => $1::bigint / 1000.0)
  ORDER BY dead_lettered_at LIMIT $2)`;
}

export function statsSql(t: OutboxTables): string {
  return `SELECT
  (SELECT count(*) FROM ${t.outbox} WHERE published_at IS NULL)::int AS pending,
  (SELECT count(*) FROM ${t.outbox} WHERE published_at IS NULL AND available_at <= now()
     AND (lease_expires_at IS NULL OR lease_expires_at <= now()))::int AS due,
  (SELECT count(*) FROM ${t.outbox} WHERE published_at IS NULL AND lease_expires_at > now())::int AS leased,
  (SELECT count(*) FROM ${t.outbox} WHERE published_at IS NOT NULL)::int AS published_retained,
  (SELECT count(*) FROM ${t.deadLetter})::int AS dead_letters,
  (SELECT extract(epoch FROM now() - min(available_at)) * 1000 FROM ${t.outbox}
     WHERE published_at IS NULL AND available_at <= now())::float8 AS oldest_due_age_ms`;
}

/**
 * How many outbox rows were ever written: the last value the seq identity handed out (0 before
 * the first insert). A sequence is not transactional, so a rolled-back insert counts too. $1 is
 * the quoted outbox table name as text.
 */
export function writtenTotalSql(): string {
  return `SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence($1, 'seq')), 0)::float8 AS written`;
}

/**
 * The dead-letter selection every admin statement shares: $1 ids (uuid[]), $2 type, $3 ordering
 * key, $4 dead-lettered at or after, $5 dead-lettered before; a null parameter matches anything.
 */
function deadLetterWhereSql(): string {
  return `($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
  AND ($2::text IS NULL OR type = $2)
  AND ($3::text IS NULL OR ordering_key = $3)
  AND ($4::timestamptz IS NULL OR dead_lettered_at >= $4)
  AND ($5::timestamptz IS NULL OR dead_lettered_at < $5)`;
}

/** Dead letters matching the selection ($1..$5), oldest first: $6 limit, $7 offset. */
export function listDeadLettersSql(t: OutboxTables): string {
  return `SELECT id, type, version, ordering_key, exchange, routing_key, payload, headers, correlation_id,
  causation_id, traceparent, tracestate, occurred_at, attempts, last_error, attempt_history, reason, dead_lettered_at
FROM ${t.deadLetter}
WHERE ${deadLetterWhereSql()}
ORDER BY dead_lettered_at, id
LIMIT $6 OFFSET $7`;
}

/** How many dead letters match the selection ($1..$5). */
export function countDeadLettersSql(t: OutboxTables): string {
  return `SELECT count(*)::int AS n FROM ${t.deadLetter} WHERE ${deadLetterWhereSql()}`;
}

/**
 * Moves the selected dead letters ($1..$5) back into the outbox with the same id, due now,
 * attempts reset. They get a new seq, so for their key they are ordered after what is pending.
 */
export function requeueDeadLettersSql(t: OutboxTables): string {
  return `WITH moved AS (
  DELETE FROM ${t.deadLetter} WHERE ${deadLetterWhereSql()} RETURNING *
)
INSERT INTO ${t.outbox} (id, type, version, ordering_key, exchange, routing_key, payload, headers,
  correlation_id, causation_id, traceparent, tracestate, occurred_at, attempt_history)
SELECT id, type, version, ordering_key, exchange, routing_key, payload, headers,
  correlation_id, causation_id, traceparent, tracestate, occurred_at,
  attempt_history || jsonb_build_array(jsonb_build_object('requeuedAt', now(), 'reason', reason))
FROM moved ORDER BY seq
RETURNING id`;
}

/** Deletes the selected dead letters ($1..$5). */
export function purgeDeadLettersSql(t: OutboxTables): string {
  return `DELETE FROM ${t.deadLetter} WHERE ${deadLetterWhereSql()}`;
}

/** A SQL string literal of a value we produced ourselves (quoted identifiers only). */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
