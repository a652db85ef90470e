// @ts-check
// WAL mode in the bench: a replication slot per scenario run (dropped on every exit path: an
// abandoned slot holds WAL on the shared disk), and the three WAL targets, measured beside the
// table mode and the baselines of the same run.
import { createWalSlot, dropWalSlot } from '@txbox/outbox';
import { sleep, uniqueName } from './common.mjs';

/**
 * Creates a slot for `schema` and registers its drop on `cleanup` (register it before the relays
 * that stream it, so it runs after they stopped). The slot sees only what commits after this.
 * @param {import('../../../test-support/cleanup-stack.mjs').CleanupStack} cleanup
 * @param {string} databaseUrl
 * @param {string} schema
 * @returns {Promise<string>} the slot name
 */
export async function benchSlot(cleanup, databaseUrl, schema) {
  const slot = uniqueName('bench_wal');
  await createWalSlot({ database: databaseUrl, schema, slot });
  cleanup.add(`slot ${slot}`, async () => {
    // A relay's walsender can hold the slot for a moment after stop().
    for (let attempt = 0; ; attempt++) {
      try {
        await dropWalSlot({ database: databaseUrl, slot });
        return;
      } catch (error) {
        if (attempt >= 50 || /** @type {{ code?: string }} */ (error).code !== 'WAL_SLOT_IN_USE') throw error;
        await sleep(100);
      }
    }
  });
  return slot;
}

/**
 * Moves the slot to the current WAL end without publishing (what other variants wrote in table
 * mode is no WAL-mode message), so a WAL phase does not start by decoding their backlog.
 * @param {import('pg').Pool} pool
 * @param {string} slot
 */
export async function advanceSlot(pool, slot) {
  await pool.query('SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())', [slot]);
}

/**
 * The WAL targets of a run: `{ id, achieved, target, better }` entries (plus what the report
 * shows), from the write, relay and latency scenarios' WAL results. report.mjs passes its own
 * `target` and `succeeded`, so each target is built one way.
 * @param {import('./report.mjs').BenchResults} r
 * @param {{ target: (id: string, scenario: string, what: string, achieved: number | null | undefined, bound: number,
 *   better: 'higher' | 'lower') => import('./report.mjs').Target, succeeded: typeof import('./report.mjs').succeeded }} helpers
 * @returns {import('./report.mjs').Target[]}
 */
export function walTargets(r, { target, succeeded }) {
  /** @type {import('./report.mjs').Target[]} */
  const t = [];
  if (succeeded(r.write) && r.write.walRatio !== undefined) {
    t.push(target('wal.write.overhead', 'write', 'bare tx/s ÷ WAL-mode txbox tx/s', r.write.walRatio, 1.05, 'lower'));
  }
  if (succeeded(r.relay) && r.relay.wal) {
    t.push(target('wal.relay.ratio', 'relay', '1 WAL relay ÷ raw confirm publish', r.relay.wal.ratio, 0.9, 'higher'));
  }
  if (succeeded(r.latency)) {
    const l = r.latency;
    const at = l.rates?.find((x) => x.rate === l.targetRate);
    const table = at?.txbox?.p99Ms;
    if (at?.wal && typeof table === 'number') {
      t.push(
        target(
          'wal.latency.p99Ms',
          'latency',
          `p99 commit → handler committed, WAL mode, ${at.rate} msg/s (ms; bound: the table mode's)`,
          at.wal.p99Ms,
          table,
          'lower',
        ),
      );
    }
  }
  return t;
}
