// @ts-check
// A producer in its own process: commits transactions that write outbox messages and, in the
// same transaction, their ledger rows (chaos.ledger: id, kind, key, key_seq = commit order within
// the key, expected outcome). Some transactions are rolled back on purpose; their ids are printed
// (`RB <id>`) since nothing of them may remain in the database. Runs until SIGTERM, then prints
// `DONE {...}` and exits.
//   CHAOS_DATABASE_URL, CHAOS_EXCHANGE, CHAOS_PRODUCER, CHAOS_SEED
//   CHAOS_RATE (transactions/s), CHAOS_KEYS, CHAOS_ROLLBACK_RATE, CHAOS_POISON_RATE
import { createOutbox } from '@txbox/outbox';
import pg from 'pg';
import { ChaosCheckedLax, ChaosEvent, ChaosPoison, ChaosVersioned, ChaosVersionedFuture } from '../lib/contracts.mjs';
import { rng } from '../lib/rng.mjs';
import { announceReady, numberEnv, reportCrashes, requiredEnv, sleep } from './common.mjs';

const producer = requiredEnv('CHAOS_PRODUCER');
reportCrashes(producer);
const random = rng(Number(requiredEnv('CHAOS_SEED')));
const rate = numberEnv('CHAOS_RATE', 20);
const keys = numberEnv('CHAOS_KEYS', 40);
const rollbackRate = numberEnv('CHAOS_ROLLBACK_RATE', 0.12);
const poisonRate = numberEnv('CHAOS_POISON_RATE', 0.03);
const writers = numberEnv('CHAOS_WRITERS', 2);

const pool = new pg.Pool({
  connectionString: requiredEnv('CHAOS_DATABASE_URL'),
  max: writers,
  application_name: 'chaos-producer',
});
pool.on('error', () => {});
const walMode = process.env.CHAOS_RELAY_MODE === 'wal';
const outbox = createOutbox({
  contracts: [ChaosEvent, ChaosCheckedLax, ChaosVersioned, ChaosVersionedFuture, ChaosPoison],
  exchange: requiredEnv('CHAOS_EXCHANGE'),
  mode: walMode ? 'wal' : 'table',
});
// WAL mode takes no lock on the write path, so the ledger's key_seq (the checker's oracle of
// commit order) needs one of its own: the producer serializes the transactions of a key, as the
// table mode's writer does. The relay's order is then checked against a known commit order.
const LOCK_KEYS = `SELECT count(pg_advisory_xact_lock(hashtext('chaos.ledger'), hashtext(k)))
FROM unnest($1::text[]) AS k`;

// key_seq: the key's commit order. outbox.add (or LOCK_KEYS) holds the key's advisory lock until the
// transaction ends, so this statement (a fresh READ COMMITTED snapshot taken after the lock)
// sees every earlier committed message of the key.
const INSERT_LEDGER = `INSERT INTO chaos.ledger (id, producer, kind, key, key_seq, expect)
VALUES ($1, $2, $3, $4::text,
  CASE WHEN $4::text IS NULL THEN NULL
       ELSE coalesce((SELECT max(key_seq) FROM chaos.ledger WHERE key = $4::text), 0) + 1 END,
  $5)`;

let counter = 0;
let poisonCounter = 0;
const stats = { committed: 0, messages: 0, rolledBack: 0, failed: 0, ambiguous: 0, poison: 0 };

function pad() {
  return 'x'.repeat(random.int(0, 200));
}

/**
 * @typedef {object} BatchItem
 * @property {import('@txbox/core').OutgoingMessage} message
 * @property {string} kind ledger kind
 * @property {string} expect expected outcome: 'apply' or 'dlq:<reason>'
 */

/**
 * One transaction's messages, each with its ledger kind and expected outcome.
 * @returns {BatchItem[]}
 */
function nextBatch() {
  /** @type {BatchItem[]} */
  const items = [];
  const count = random.int(1, 3);
  for (let i = 0; i < count; i++) {
    counter += 1;
    const roll = random.next();
    if (roll < 0.8) {
      const key = random.chance(0.85) ? `k${random.int(0, keys - 1)}` : undefined;
      const delayMs = random.chance(0.03) ? random.int(100, 1500) : undefined;
      items.push({
        message: ChaosEvent.create({ producer, n: counter, pad: pad() }, { key, delayMs }),
        kind: 'event',
        expect: 'apply',
      });
    } else if (roll < 0.9) {
      items.push({
        message: ChaosCheckedLax.create({ amount: random.int(0, 1000) }),
        kind: 'checked',
        expect: 'apply',
      });
    } else {
      items.push({ message: ChaosVersioned.create({ v: counter }), kind: 'versioned', expect: 'apply' });
    }
  }
  if (random.chance(poisonRate)) {
    poisonCounter += 1;
    // Poison on keys of its own (or none): a failing handler must not hold up the keyed stream.
    const key = random.chance(0.5) ? `poison-${producer}-${poisonCounter}` : undefined;
    const which = random.int(0, 3);
    if (which === 0) {
      items.push({
        message: ChaosPoison.create({ mode: 'retry' }, { key }),
        kind: 'poison-retry',
        expect: 'dlq:retries exhausted',
      });
    } else if (which === 1) {
      items.push({
        message: ChaosPoison.create({ mode: 'fatal' }, { key }),
        kind: 'poison-fatal',
        expect: 'dlq:not retryable',
      });
    } else if (which === 2) {
      items.push({
        message: ChaosCheckedLax.create({ amount: -random.int(1, 100) }, { key }),
        kind: 'invalid-payload',
        expect: 'dlq:invalid payload',
      });
    } else {
      items.push({
        message: ChaosVersionedFuture.create({ v: counter, extra: 'from the future' }, { key }),
        kind: 'unknown-version',
        expect: 'dlq:unknown version',
      });
    }
  }
  return items;
}

/**
 * @param {readonly BatchItem[]} items
 * @param {boolean} rollback
 */
async function transaction(items, rollback) {
  const client = await pool.connect();
  let sentCommit = false;
  /** @type {string[]} */
  let ids = [];
  try {
    await client.query('BEGIN');
    if (walMode) {
      const keys = [...new Set(items.map((i) => i.message.key).filter((k) => typeof k === 'string'))].sort();
      await client.query(LOCK_KEYS, [keys]);
    }
    ids = await outbox.add(
      client,
      items.map((i) => i.message),
    );
    for (let i = 0; i < items.length; i++) {
      const item = /** @type {BatchItem} */ (items[i]);
      await client.query(INSERT_LEDGER, [ids[i], producer, item.kind, item.message.key ?? null, item.expect]);
    }
    if (rollback) {
      await client.query('ROLLBACK');
      for (const id of ids) process.stdout.write(`RB ${id}\n`);
      stats.rolledBack += 1;
      return;
    }
    sentCommit = true;
    await client.query('COMMIT');
    stats.committed += 1;
    stats.messages += ids.length;
    stats.poison += items.filter((i) => i.expect !== 'apply').length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    if (sentCommit) {
      // The outcome is unknown to us; the ledger, written in the same transaction, knows.
      stats.ambiguous += 1;
    } else {
      stats.failed += 1;
      for (const id of ids) process.stdout.write(`RB ${id}\n`);
    }
    process.stderr.write(`transaction failed: ${error instanceof Error ? error.message : String(error)}\n`);
  } finally {
    client.release();
  }
}

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});

announceReady();
const intervalMs = 1000 / rate;
let next = Date.now();
const inFlight = new Set();
while (!stopping) {
  const wait = next - Date.now();
  if (wait > 0) await sleep(wait);
  next += intervalMs;
  // Stay close to the rate without bursting after a stall.
  if (Date.now() - next > 1000) next = Date.now();
  while (inFlight.size >= writers) await Promise.race(inFlight);
  const task = transaction(nextBatch(), random.chance(rollbackRate)).finally(() => inFlight.delete(task));
  inFlight.add(task);
}
await Promise.allSettled(inFlight);
await pool.end();
process.stdout.write(`DONE ${JSON.stringify(stats)}\n`);
process.exit(0);
