// "This transaction wrote exactly these messages", asked inside the transaction itself: the
// outbox rows it can see whose inserting transaction is still in progress are its own (another
// transaction's uncommitted rows are invisible to it), including those of its savepoints. So the
// answer holds with other tests, relays and consumers writing to the same outbox at once.
import { deepStrictEqual } from 'node:assert/strict';
import { type OutgoingMessage, toTransaction } from '@txbox/core';
import { outboxTables } from '@txbox/outbox/internal';

/** A message as the outbox row holds it. */
export interface WrittenMessage {
  id: string;
  type: string;
  version: number;
  key: string | null;
  payload: unknown;
}

/** What a written message must match: a `Contract.create(...)` message, or the fields to compare. */
export type ExpectedMessage =
  | OutgoingMessage
  | { type: string; payload?: unknown; version?: number; key?: string | null; id?: string };

/**
 * The messages the open transaction `tx` has added to the outbox so far, in the order written.
 * `tx` is whatever `outbox.add` takes (a pg client, an EntityManager, `fromPrisma(tx)`, …).
 */
export async function outboxWrites(tx: unknown, options: { schema?: string } = {}): Promise<WrittenMessage[]> {
  const transaction = toTransaction(tx);
  const { outbox } = outboxTables(options.schema ?? 'txbox');
  // xmin is a 32-bit xid; pg_xact_status takes the 64-bit one: add the current epoch (the one
  // before it for an xid above the current one's low bits, written before the counter wrapped).
  const { rows } = await transaction.query<WrittenMessage>(
    `WITH me AS (SELECT pg_current_xact_id()::text::bigint AS xid)
     SELECT o.id::text AS id, o.type, o.version, o.ordering_key AS key, o.payload
       FROM ${outbox} o, me
      WHERE o.published_at IS NULL
        AND pg_xact_status((
              (CASE WHEN o.xmin::text::bigint <= (me.xid & 4294967295) THEN me.xid >> 32
                    ELSE greatest((me.xid >> 32) - 1, 0) END << 32) | o.xmin::text::bigint
            )::text::xid8) = 'in progress'
      ORDER BY o.seq`,
  );
  return rows;
}

/**
 * Asserts that the open transaction `tx` wrote exactly `expected` to the outbox, in that order
 * (type, version, payload, and key / id where the expectation gives them). Throws an
 * `AssertionError` with a diff otherwise, so it works under any test runner.
 */
export async function assertOutboxWrites(
  tx: unknown,
  expected: readonly ExpectedMessage[],
  options: { schema?: string } = {},
): Promise<WrittenMessage[]> {
  const written = await outboxWrites(tx, options);
  const wanted = expected.map(normalize);
  const actual = written.map((w, i) => {
    const want = wanted[i];
    const shown: Record<string, unknown> = { type: w.type, version: w.version, payload: w.payload };
    if (want && 'key' in want) shown.key = w.key;
    if (want && 'id' in want) shown.id = w.id;
    if (want && !('version' in want)) delete shown.version;
    if (want && !('payload' in want)) delete shown.payload;
    return shown;
  });
  deepStrictEqual(
    actual,
    wanted,
    `the transaction wrote ${written.length} outbox message(s); expected ${expected.length}`,
  );
  return written;
}

function normalize(message: ExpectedMessage): Record<string, unknown> {
  if ('contract' in message) {
    // The payload as stored: parsed by its contract (defaults applied), as the writer stores it.
    const shown: Record<string, unknown> = {
      type: message.contract.type,
      version: message.contract.version,
      payload: JSON.parse(JSON.stringify(message.contract.schema.parse(message.payload))),
    };
    if (message.key !== undefined) shown.key = message.key;
    if (message.id !== undefined) shown.id = message.id;
    return shown;
  }
  const shown: Record<string, unknown> = { type: message.type };
  if (message.version !== undefined) shown.version = message.version;
  if ('payload' in message) shown.payload = message.payload;
  if (message.key !== undefined) shown.key = message.key;
  if (message.id !== undefined) shown.id = message.id;
  return shown;
}
