// @ts-check
// 6. backlog — the relay's claim (its exact SQL: `BEGIN; <claim lock>`, then the claim
// statement) with 10 messages waiting and with a large backlog waiting, same batch size; each
// sample is rolled back so the backlog stays the same. The backlog is filled with one
// INSERT ... SELECT generate_series (not through the writer), then ANALYZEd. A third case puts
// the whole backlog behind a future available_at (what retry back-off does to a backlog during
// a broker outage) with 10 due messages after it.
import { migrateOutbox } from '@txbox/outbox';
import { outboxSql, outboxTables } from '@txbox/outbox/internal';
import pg from 'pg';
import { CleanupStack, DATABASE_URL, dropSchema, newPool, round, summarize, uniqueName } from '../lib/common.mjs';

/**
 * @typedef {object} BacklogSettings
 * @property {number} backlog rows waiting in the large case
 * @property {number} small rows waiting in the small case
 * @property {number[]} batches claim batch sizes; the first one gives the ratios
 * @property {number} samples claims timed per batch size (after 3 untimed ones)
 * @property {number} payloadBytes
 * @property {boolean} notDue also measure with the whole backlog not yet due
 */

/**
 * One batch size's claims.
 * @typedef {object} ClaimSample
 * @property {number} batch
 * @property {number} claimed rows the last claim returned
 * @property {number | null} p50Ms
 * @property {number | null} p95Ms
 * @property {number | null} meanMs
 * @property {number | null} serverMs execution time EXPLAIN ANALYZE reports
 * @property {number} buffers shared buffers hit or read by the claim's top plan node
 */

/**
 * The top of `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` output, as far as it is read here.
 * @typedef {{ 'Execution Time': number, Plan: { 'Shared Hit Blocks'?: number, 'Shared Read Blocks'?: number } }} ExplainTop
 */

/** @type {{ full: BacklogSettings, quick: BacklogSettings }} */
export const defaults = {
  full: { backlog: 1_000_000, small: 10, batches: [10, 200], samples: 30, payloadBytes: 1000, notDue: true },
  quick: { backlog: 100_000, small: 10, batches: [10, 200], samples: 20, payloadBytes: 1000, notDue: true },
};

/** @param {import('../lib/common.mjs').ScenarioOptions<BacklogSettings>} options */
export async function run({ settings, databaseUrl = DATABASE_URL, log = () => {} }) {
  const { backlog, small, batches, samples, payloadBytes } = settings;
  const first = batches[0]; // the batch size the ratios compare
  if (first === undefined) throw new Error('backlog: settings.batches is empty');
  const schema = uniqueName('bench_backlog');
  const tables = outboxTables(schema);
  const cleanup = new CleanupStack();
  const pool = newPool(2, databaseUrl);
  cleanup.add('pool', () => pool.end());
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'txbox-bench-backlog' });
  client.on('error', () => {});
  await client.connect();
  cleanup.add('client', () => client.end());
  try {
    await migrateOutbox({ database: databaseUrl, schema });
    cleanup.add('schema', () => dropSchema(pool, schema));
    const lockSql = `BEGIN; ${outboxSql.claimLockSql(tables)}`;
    const claimSql = outboxSql.claimBatchSql(tables);

    /**
     * @param {number} count
     * @param {number} offset ids continue after this one
     */
    const fill = async (count, offset) => {
      const t0 = performance.now();
      await pool.query(
        `INSERT INTO ${tables.outbox} (id, type, version, exchange, routing_key, payload)
         SELECT gen_random_uuid(), 'bench.blob', 1, 'bench.backlog', 'bench.blob',
                jsonb_build_object('i', g, 'data', repeat('x', $3::int))
         FROM generate_series($1::bigint, $2::bigint) g`,
        [offset + 1, offset + count, Math.max(0, payloadBytes - 24)],
      );
      await pool.query(`ANALYZE ${tables.outbox}`);
      return Math.round(performance.now() - t0);
    };

    /**
     * @param {number} batch
     * @returns {Promise<ClaimSample>}
     */
    const measure = async (batch, count = samples) => {
      /** @type {number[]} */
      const times = [];
      let claimed = 0;
      for (let i = 0; i < count + 3; i++) {
        const t0 = performance.now();
        await client.query(lockSql);
        const { rows } = await client.query(claimSql, [batch, 'bench-backlog', 30_000]);
        const ms = performance.now() - t0;
        await client.query('ROLLBACK');
        if (i >= 3) times.push(ms);
        claimed = rows.length;
      }
      // Plan-level evidence: buffers touched and server-side execution time.
      await client.query(lockSql);
      const { rows: plan } = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${claimSql}`, [
        batch,
        'bench-backlog',
        30_000,
      ]);
      await client.query('ROLLBACK');
      const top = /** @type {ExplainTop} */ (plan[0]['QUERY PLAN'][0]);
      const s = summarize(times);
      return {
        batch,
        claimed,
        p50Ms: s.p50Ms,
        p95Ms: s.p95Ms,
        meanMs: s.meanMs,
        serverMs: round(top['Execution Time'], 3),
        buffers: (top.Plan['Shared Hit Blocks'] ?? 0) + (top.Plan['Shared Read Blocks'] ?? 0),
      };
    };
    /** @param {string} label */
    const measureAll = async (label, list = batches, count = samples) => {
      /** @type {Record<string, ClaimSample>} */
      const out = {};
      for (const b of list) out[`batch${b}`] = await measure(b, count);
      log(
        `  backlog ${label}: ${Object.values(out)
          .map((m) => `batch ${m.batch} → ${m.p50Ms} ms (${m.buffers} buffers)`)
          .join(', ')}`,
      );
      return out;
    };

    const fillSmallMs = await fill(small, 0);
    const few = await measureAll(`${small} waiting`);
    const fillBacklogMs = await fill(backlog, small);
    const many = await measureAll(`${backlog + small} waiting`);
    /** @type {{ fillMs: number, ahead: Record<string, ClaimSample> } | undefined} */
    let notDue;
    if (settings.notDue) {
      // Everything waiting goes behind a future available_at; 10 new messages are due after it.
      const t0 = performance.now();
      await pool.query(`UPDATE ${tables.outbox} SET available_at = now() + interval '1 hour'`);
      await fill(small, backlog + small);
      const fillMs = Math.round(performance.now() - t0);
      // Each sample here scans the whole backlog: a few are enough.
      notDue = { fillMs, ahead: await measureAll(`${backlog + small} not due ahead of ${small} due`, [first], 3) };
    }
    const b = `batch${first}`;
    /** @param {Record<string, ClaimSample>} m a missing sample or time makes the ratio null */
    const p50 = (m) => m[b]?.p50Ms ?? Number.NaN;
    /** @param {Record<string, ClaimSample>} m */
    const buffers = (m) => m[b]?.buffers ?? Number.NaN;
    return {
      backlog,
      small,
      samples,
      payloadBytes,
      fillMs: { small: fillSmallMs, backlog: fillBacklogMs, ...(notDue && { notDue: notDue.fillMs }) },
      few,
      many,
      ...(notDue && { notDueAhead: notDue.ahead }),
      // Claim cost with the backlog / claim cost with 10 waiting, same batch size (1 = no growth).
      ratio: round(p50(many) / p50(few), 2),
      buffersRatio: round(buffers(many) / buffers(few), 2),
      ...(notDue && { notDueRatio: round(p50(notDue.ahead) / p50(few), 1) }),
    };
  } finally {
    await cleanup.run(log);
  }
}
