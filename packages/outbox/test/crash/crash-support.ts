/**
 * Helpers shared by the crash-safety tests (on top of test-support): the test contract, outbox
 * writes in committed transactions, and the invariants checked after a crash.
 */
import { defineMessage } from '@txbox/core';
import { createOutbox, type OutboxWriter } from '@txbox/outbox';
import type { ConsumeMessage } from 'amqplib';
import type pg from 'pg';
import { z } from 'zod';
import { type MessageCollector, waitUntil } from '../../../../test-support/index.js';

export const CrashEvent = defineMessage({
  type: 'crash.event',
  version: 1,
  schema: z.object({ n: z.number().int(), key: z.string().nullable(), pad: z.string() }),
});

export interface Arrival {
  id: string;
  key: string | null;
}

/** Id and ordering key of each delivery, in arrival order (duplicates included). */
export function arrivalsOf(messages: readonly ConsumeMessage[]): Arrival[] {
  return messages.map((m) => {
    const rawKey = m.properties.headers?.['x-txbox-key'];
    return { id: String(m.properties.messageId), key: rawKey === undefined || rawKey === null ? null : String(rawKey) };
  });
}

/** Resolves once every id in `expected` has arrived at least once on the collector. */
export async function waitForIds(
  collector: MessageCollector,
  expected: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const seen = new Set<string>();
  let scanned = 0;
  const missing = () => {
    const messages = collector.messages;
    for (; scanned < messages.length; scanned += 1) seen.add(String(messages[scanned]?.properties.messageId));
    return expected.filter((id) => !seen.has(id)).length;
  };
  try {
    await waitUntil('all messages to arrive', async () => missing() === 0, { timeoutMs, intervalMs: 50 });
  } catch {
    throw new Error(`${missing()} of ${expected.length} written messages had not arrived after ${timeoutMs} ms`);
  }
}

export interface WrittenMessage {
  id: string;
  key: string | null;
}

export function crashWriter(schema: string, exchange: string, mode: 'table' | 'wal' = 'table'): OutboxWriter {
  return createOutbox({ contracts: [CrashEvent], schema, exchange, mode });
}

/**
 * Writes messages in committed transactions of `perTx` messages each. The caller learns the
 * commit order from the returned array: a transaction's messages are pushed only after COMMIT.
 */
export async function writeCommitted(
  pool: pg.Pool,
  writer: OutboxWriter,
  messages: { n: number; key: string | null }[],
  perTx: number,
  committed: WrittenMessage[] = [],
): Promise<WrittenMessage[]> {
  const client = await pool.connect();
  try {
    for (let i = 0; i < messages.length; i += perTx) {
      const chunk = messages.slice(i, i + perTx);
      await client.query('BEGIN');
      try {
        const ids = await writer.add(
          client,
          chunk.map((m) =>
            CrashEvent.create({ n: m.n, key: m.key, pad: 'x'.repeat(64) }, m.key === null ? {} : { key: m.key }),
          ),
        );
        await client.query('COMMIT');
        chunk.forEach((m, j) => {
          committed.push({ id: ids[j] as string, key: m.key });
        });
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }
  } finally {
    client.release();
  }
  return committed;
}

/**
 * Checks that, for every key, the first arrival of each id follows commit order. Returns a
 * description of the first violation, or null.
 */
export function perKeyOrderViolation(committed: WrittenMessage[], arrivals: Arrival[]): string | null {
  const expected = new Map<string, string[]>();
  for (const m of committed) {
    if (m.key === null) continue;
    const list = expected.get(m.key) ?? [];
    expected.set(m.key, list);
    list.push(m.id);
  }
  const firstSeen = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const a of arrivals) {
    if (seen.has(a.id)) continue;
    seen.add(a.id);
    if (a.key === null) continue;
    const list = firstSeen.get(a.key) ?? [];
    firstSeen.set(a.key, list);
    list.push(a.id);
  }
  for (const [key, ids] of expected) {
    const got = firstSeen.get(key) ?? [];
    for (let i = 0; i < ids.length; i += 1) {
      if (got[i] !== ids[i]) {
        return `key ${key}: position ${i} expected ${ids[i]} (commit order) but first arrivals had ${got[i] ?? 'nothing'}`;
      }
    }
  }
  return null;
}

export function duplicateCounts(arrivals: Arrival[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of arrivals) counts.set(a.id, (counts.get(a.id) ?? 0) + 1);
  for (const [id, n] of counts) if (n < 2) counts.delete(id);
  return counts;
}

/** Rows of the outbox currently leased by `owner`. */
export async function leasedBy(pool: pg.Pool, schema: string, owner: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${schema}".outbox WHERE lease_owner = $1`,
    [owner],
  );
  return rows[0]?.n ?? 0;
}

export async function outboxCount(pool: pg.Pool, schema: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".outbox`);
  return rows[0]?.n ?? 0;
}

/**
 * Holds the outbox's claim lock in an open transaction, so any relay that reaches its claim
 * (which happens only once its AMQP channel is open) waits there. `release()` lets it claim.
 */
export async function holdClaimLock(pool: pg.Pool, claimLockSql: string): Promise<{ release(): Promise<void> }> {
  const client = await pool.connect();
  await client.query('BEGIN');
  await client.query(claimLockSql);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    },
  };
}

/** Backends (other than the caller's) waiting for an advisory lock in a statement that names `schema`. */
export async function claimsWaiting(pool: pg.Pool, schema: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND pid <> pg_backend_pid()
       AND query LIKE '%pg_advisory_xact_lock%' AND position($1 in query) > 0`,
    [`"${schema}"."outbox"`],
  );
  return rows[0]?.n ?? 0;
}
