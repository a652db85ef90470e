// Every statement the inbox runs, as pure functions of the quoted table names: the names are
// validated and quoted once, all values are bound parameters, and the text can be unit-tested
// (and prepared by name) without a database.
import { validateSqlIdentifier } from '@txbox/core/internal';

/** Quoted, validated names the inbox SQL uses. */
export interface InboxTables {
  schema: string;
  inbox: string;
}

export function inboxTables(schema: string): InboxTables {
  validateSqlIdentifier('schema name', schema);
  return { schema, inbox: `"${schema}"."inbox"` };
}

/**
 * Records deliveries (one, or a batch) in one statement: $1 group, then parallel arrays $2 ids,
 * $3 types, $4 versions, $5 attempts. Returns the ids recorded now (first deliveries);
 * an id already present, or repeated in the batch, is returned at most once. A concurrent
 * transaction holding one of the keys makes this wait until it commits (then: a duplicate) or
 * rolls back (then: recorded now, this delivery runs the handler). Rows go in id order so that
 * two concurrent batches wait on each other's keys in one order (no deadlock).
 */
export function recordDeliveriesSql(t: InboxTables): string {
  return `INSERT INTO ${t.inbox} (consumer_group, message_id, type, version, attempts, received_at)
SELECT $1, d.id, d.type, d.version, d.attempts, now()
FROM unnest($2::text[], $3::text[], $4::int[], $5::int[]) AS d(id, type, version, attempts)
ORDER BY d.id
ON CONFLICT (consumer_group, message_id) DO NOTHING
RETURNING message_id`;
}

/** Forgets a delivery (the admin's `forget`: its next delivery runs the handler again): $1 group, $2 id. */
export function forgetDeliverySql(t: InboxTables): string {
  return `DELETE FROM ${t.inbox} WHERE consumer_group = $1 AND message_id = $2`;
}

/** Deletes up to $2 records of group $3 (or all groups when null) processed more than $1 ms ago. */
export function deleteOldRecordsSql(t: InboxTables): string {
  return `DELETE FROM ${t.inbox} WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM ${t.inbox}
  WHERE processed_at < now() - make_interval(secs => $1::bigint / 1000.0)
    AND ($3::text IS NULL OR consumer_group = $3)
  ORDER BY processed_at LIMIT $2))`;
}

/** Row count and age of the oldest record of group $1. */
export function inboxStatsSql(t: InboxTables): string {
  return `SELECT count(*)::int AS records,
  coalesce(extract(epoch FROM now() - min(processed_at)) * 1000, 0)::float8 AS oldest_record_age_ms
FROM ${t.inbox} WHERE consumer_group = $1`;
}
