// @ts-check
// One chaos run: a dedicated database, topology, proxies and child processes; a mixed workload
// under a seeded fault schedule; a settle phase; the checker; cleanup that always leaves
// RabbitMQ running and no child behind.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AmqpConnection } from '@txbox/core';
import { declareTopology, groupTopology, migrateInbox } from '@txbox/inbox';
import { createWalSlot, migrateOutbox } from '@txbox/outbox';
import pg from 'pg';
import { startTcpProxy } from '../../test-support/tcp-proxy.mjs';
import { deleteTopology } from '../../test-support/topology.mjs';
import {
  brokerStoppedByUs,
  ensureBrokerRunning,
  requireExchangeType,
  startBrokerApp,
  stopBrokerApp,
  waitForQuietBroker,
} from './broker.mjs';
import { check } from './checker.mjs';
import { killAllChildren, Role } from './children.mjs';
import { clusterUp, ensureClusterUp, killNode, startNode, stopCluster } from './cluster.mjs';
import { CONSUMER_RETRY_DELAYS_MS, GROUP_A_PARTITIONS, HANDLED_TYPES } from './contracts.mjs';
import { startProxySet } from './proxy-set.mjs';
import { rawPoisonVariants } from './raw-poison.mjs';
import { buildSchedule, formatSchedule, GROUP_A_CONSUMERS, PROCESS_TARGETS } from './schedule.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const workers = join(here, '..', 'workers');
/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const DEFAULTS = {
  durationMs: 180_000,
  settleTimeoutMs: 180_000,
  rate: 15,
  producers: 2,
  keys: 40,
  brokerRestart: true,
  boundary: true,
  keep: false,
  strictOrder: false,
  /**
   * `'cluster'`: the local three-node cluster (scripts/rabbitmq-cluster/): groups on quorum queues,
   * every process given the three nodes (each through its own proxy), node SIGKILLs instead of the
   * broker restart.
   */
  broker: /** @type {'single' | 'cluster'} */ ('single'),
  /** `'wal'`: producers write in WAL mode and the relays stream a slot of the chaos database. */
  relayMode: /** @type {'table' | 'wal'} */ ('table'),
  quietBrokerWaitMs: 30_000,
  adminDatabaseUrl: process.env.TXBOX_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
  amqpUrl: process.env.TXBOX_TEST_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672',
};

/**
 * @param {string} url
 * @param {string} database
 */
function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * @typedef {typeof DEFAULTS & { seed: number, faults?: boolean, runDir?: string, log?: (line: string) => void }} ChaosOptions
 */

/** @typedef {import('amqplib').Channel} Channel */
/** @typedef {import('./checker.mjs').BoundaryResult} BoundaryResult */
/** @typedef {import('./schedule.mjs').FaultEvent} FaultEvent */

/**
 * @param {Partial<ChaosOptions> & { seed: number }} input
 * @returns {Promise<import('./report.mjs').ChaosRunResult>}
 */
export async function runChaos(input) {
  const o = { ...DEFAULTS, ...input };
  const seed = o.seed >>> 0;
  const tag = `chaos_${seed}`;
  const database = `txbox_${tag}`;
  const exchange = `${tag}.events`;
  const slotName = `txbox_${tag}`;
  const runDir = o.runDir ?? join(here, '..', '.runs', `${seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(runDir, { recursive: true });
  const started = Date.now();
  /** @param {string} line */
  const log = (line) => {
    const text = `[chaos ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`;
    (o.log ?? console.log)(text);
  };
  const chaosDbUrl = withDatabase(o.adminDatabaseUrl, database);
  const onCluster = o.broker === 'cluster';
  /** @type {{ urls: string[], startedByUs: boolean } | undefined} */
  let cluster;
  const queueType = onCluster ? 'quorum' : 'classic';
  // Group A: partitioned, its instances sharing the partitions (and moving them at every fault);
  // group B: one instance on a plain queue, the unpartitioned path.
  /** @type {ChaosGroup} */
  const groupA = {
    label: 'A',
    name: `${tag}_a`,
    instances: GROUP_A_CONSUMERS.length,
    consumers: GROUP_A_CONSUMERS,
    partitions: GROUP_A_PARTITIONS,
  };
  /** @type {ChaosGroup} */
  const groupB = { label: 'B', name: `${tag}_b`, instances: 1, consumers: ['consumerB'], partitions: null };
  const groups = [groupA, groupB];
  /** Partition take-overs and hand-overs, per group, from the consumers' REBALANCED lines. */
  const rebalances = new Map(groups.map((g) => [g.name, { steps: 0, took: 0, gave: 0 }]));
  const faults = {
    kill: 0,
    freeze: 0,
    cut: 0,
    stall: 0,
    'pg-terminate': 0,
    'pg-backends-terminated': 0,
    'broker-restart': 0,
    'node-kill': 0,
    'raw-poison': 0,
    skipped: 0,
  };
  /** @type {import('./children.mjs').Crash[]} */
  const crashes = [];
  /** @type {Set<string>} */
  const rolledBack = new Set();
  /** @type {Map<string, Set<string>>} */
  const failedAttempts = new Map(groups.map((g) => [g.name, new Set()]));
  /** @type {{ chaosId: string, messageId: string | null, reason: string, name: string }[]} */
  const rawExpected = [];
  /** @type {Record<string, Role>} */
  const roles = {};
  /** @type {Record<string, Pick<import('../../test-support/tcp-proxy.d.mts').TcpProxy, 'url' | 'cut' | 'stall' | 'resume' | 'restore' | 'stalled' | 'close'>>} */
  const proxies = {};
  /** @param {string | undefined} name */
  const roleOf = (name) => {
    const role = name === undefined ? undefined : roles[name];
    if (!role) throw new Error(`no chaos process named ${name}`);
    return role;
  };
  /** @param {string | undefined} name */
  const proxyOf = (name) => {
    const proxy = name === undefined ? undefined : proxies[name];
    if (!proxy) throw new Error(`no proxy for a chaos process named ${name}`);
    return proxy;
  };
  /** @type {Set<NodeJS.Timeout>} */
  const timers = new Set();
  /** @type {Set<Promise<unknown>>} */
  const pending = new Set();
  /** @type {pg.Pool | undefined} */
  let admin;
  /** @type {pg.Pool | undefined} */
  let chaosPool;
  /** @type {AmqpConnection | undefined} */
  let amqp;
  /** @type {Tap | undefined} */
  let tap;
  /** @type {import('./report.mjs').ChaosRunResult} */
  let result;

  if (o.relayMode === 'wal') {
    log(`relay mode wal: slot ${slotName} in ${database}`);
    if (o.keep) log(`--keep keeps the slot ${slotName}: it holds WAL until you drop the database`);
  }
  log(`seed ${seed}, duration ${o.durationMs / 1000}s, settle timeout ${o.settleTimeoutMs / 1000}s, logs in ${runDir}`);
  try {
    if (onCluster) {
      log('broker profile cluster: starting the local three-node cluster unless it is up');
      cluster = await clusterUp();
      log(`cluster nodes: ${cluster.urls.join(', ')}`);
    }
    /** One node for what needs a single URL (the plugin probe, the boundary process). */
    const firstUrl = cluster?.urls[0] ?? o.amqpUrl;
    // --- what the broker must offer (before anything is created) ------------------------------
    await requireExchangeType({
      url: firstUrl,
      type: 'x-consistent-hash',
      plugin: 'rabbitmq_consistent_hash_exchange',
      exchange: `${tag}.plugin-probe`,
      why: `chaos group A (${groupA.name}) consumes partitioned`,
    });

    // --- the dedicated database -------------------------------------------------------------
    admin = new pg.Pool({ connectionString: o.adminDatabaseUrl, max: 2, application_name: `chaos-admin ${tag}` });
    admin.on('error', () => {});
    await dropDatabase(admin, database);
    await admin.query(`CREATE DATABASE ${database}`);
    await migrateOutbox({ database: chaosDbUrl });
    await migrateInbox({ database: chaosDbUrl });
    // The slot lives in the chaos database and is dropped with it (dropDatabase), on every exit path.
    if (o.relayMode === 'wal') await createWalSlot({ database: chaosDbUrl, slot: slotName });
    chaosPool = new pg.Pool({ connectionString: chaosDbUrl, max: 4, application_name: `chaos-orchestrator ${tag}` });
    chaosPool.on('error', () => {});
    await chaosPool.query(`CREATE SCHEMA chaos;
CREATE TABLE chaos.ledger (id uuid PRIMARY KEY, producer text NOT NULL, kind text NOT NULL, key text,
  key_seq int, expect text NOT NULL, committed_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON chaos.ledger (key, key_seq);
-- No unique constraint: a message applied twice shows up as two rows.
CREATE TABLE chaos.effects (applied_seq bigserial, grp text NOT NULL, message_id uuid NOT NULL, key text,
  key_seq int, prev_max int, instance text NOT NULL, attempt int NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON chaos.effects (grp, key, key_seq);`);

    // --- broker: topology declared up front, so nothing is unroutable before consumers start --
    amqp = new AmqpConnection({ url: cluster?.urls ?? o.amqpUrl, connectionName: `chaos-orchestrator ${tag}` });
    const topologies = groups.map((g) => topologyOf(g, exchange, queueType));
    const tapQueue = `${tag}.tap`;
    await withChannel(amqp, async (ch) => {
      for (const t of topologies) await deleteTopology(ch, t);
      await ch.deleteQueue(tapQueue);
    });
    await withChannel(amqp, async (ch) => {
      for (const t of topologies) await declareTopology(ch, t);
      // On the cluster the tap is replicated too: a classic queue on a killed node would miss what is published meanwhile.
      await ch.assertQueue(tapQueue, { durable: true, arguments: onCluster ? { 'x-queue-type': 'quorum' } : {} });
      await ch.bindQueue(tapQueue, exchange, '#');
    });

    // --- bad input at the boundary (own process: a hang there must not hang the run) ------------
    /** @type {BoundaryResult[]} */
    let boundary = [];
    if (o.boundary) {
      boundary = await runBoundary({ chaosDbUrl, amqpUrl: firstUrl, exchange, runDir });
      const failed = boundary.filter((b) => !b.ok);
      log(`boundary: ${boundary.length} cases, ${failed.length} failed`);
      for (const b of failed) log(`  FAILED [${b.area}] ${b.name}: ${JSON.stringify(b.got)}`);
    }

    // --- proxies and processes ------------------------------------------------------------------
    const amqpTarget = new URL(o.amqpUrl);
    for (const name of PROCESS_TARGETS) {
      proxies[name] = cluster
        ? await startProxySet(cluster.urls)
        : await startTcpProxy(amqpTarget.hostname, Number(amqpTarget.port || 5672));
    }
    /** @param {import('./children.mjs').Crash} crash */
    const onCrash = (crash) => {
      crashes.push(crash);
      log(`CRASH ${crash.role} code=${crash.code} signal=${crash.signal}: ${crash.stderr.slice(-2).join(' | ')}`);
    };
    const common = {
      CHAOS_DATABASE_URL: chaosDbUrl,
      CHAOS_EXCHANGE: exchange,
      ...(o.relayMode === 'wal' ? { CHAOS_RELAY_MODE: 'wal', CHAOS_SLOT: slotName } : {}),
      CHAOS_QUEUE_TYPE: queueType,
    };
    for (const n of [1, 2]) {
      const name = `relay${n}`;
      roles[name] = new Role({
        name,
        script: join(workers, 'relay.mjs'),
        env: { ...common, CHAOS_AMQP_URL: proxyOf(name).url(o.amqpUrl), CHAOS_RELAY_ID: `${tag}-${name}` },
        runDir,
        onCrash,
      });
    }
    /** @param {string} group */
    const consumerLine = (group) => (/** @type {string} */ line) => {
      const m = /^(RETRIED|UNSETTLED) (\S+)/.exec(line);
      if (m?.[2]) failedAttempts.get(group)?.add(m[2]);
      if (line.startsWith('REBALANCED ')) {
        const { took = [], gave = [] } = JSON.parse(line.slice(11));
        const count = rebalances.get(group);
        if (count) {
          count.steps += 1;
          count.took += took.length;
          count.gave += gave.length;
        }
      }
    };
    for (const g of groups) {
      for (const name of g.consumers) {
        roles[name] = new Role({
          name,
          script: join(workers, 'consumer.mjs'),
          env: {
            ...common,
            CHAOS_AMQP_URL: proxyOf(name).url(o.amqpUrl),
            CHAOS_GROUP: g.name,
            CHAOS_INSTANCE: name,
            ...(g.partitions ? { CHAOS_PARTITIONS: JSON.stringify(g.partitions) } : {}),
          },
          runDir,
          onLine: consumerLine(g.name),
          onCrash,
        });
      }
    }
    /** @type {Record<string, unknown>} */
    const producerStats = {};
    const producers = [];
    for (let i = 1; i <= o.producers; i++) {
      const name = `producer${i}`;
      producers.push(
        new Role({
          name,
          script: join(workers, 'producer.mjs'),
          env: {
            ...common,
            CHAOS_PRODUCER: name,
            CHAOS_SEED: String((seed * 31 + i) >>> 0),
            CHAOS_RATE: String(o.rate),
            CHAOS_KEYS: String(o.keys),
          },
          runDir,
          onLine: (line) => {
            if (line.startsWith('RB ')) rolledBack.add(line.slice(3));
            else if (line.startsWith('DONE ')) producerStats[name] = JSON.parse(line.slice(5));
          },
          onCrash,
        }),
      );
    }
    await Promise.all(PROCESS_TARGETS.map((n) => roleOf(n).start()));
    await Promise.all(PROCESS_TARGETS.map((n) => roleOf(n).waitReady(60_000)));
    tap = new Tap(amqp, tapQueue);
    await tap.start();
    log('relays and consumers ready');

    // --- workload under the fault schedule ------------------------------------------------------
    const schedule =
      o.faults === false
        ? []
        : buildSchedule(seed, o.durationMs, {
            brokerRestart: o.brokerRestart && !onCluster,
            nodeKills: onCluster && o.brokerRestart ? 2 : 0,
          });
    log(`fault schedule (seed ${seed}):\n${formatSchedule(schedule)}`);
    writeFileSync(join(runDir, 'schedule.json'), JSON.stringify(schedule, null, 2));
    for (const p of producers) p.start();
    await Promise.all(producers.map((p) => p.waitReady(30_000)));
    /** @param {Promise<unknown>} promise */
    const track = (promise) => {
      pending.add(promise);
      promise.finally(() => pending.delete(promise)).catch(() => {});
      return promise;
    };
    /**
     * @param {number | undefined} ms
     * @param {() => unknown} fn
     */
    const later = (ms, fn) => {
      const t = setTimeout(() => {
        timers.delete(t);
        track(Promise.resolve().then(fn));
      }, ms);
      timers.add(t);
    };
    let nodeDown = false;
    /** @param {FaultEvent} ev */
    const execute = async (ev) => {
      switch (ev.kind) {
        case 'kill': {
          const role = roleOf(ev.target);
          if (!(await role.kill())) {
            faults.skipped += 1;
            return;
          }
          faults.kill += 1;
          later(ev.durationMs, () => {
            role.start().catch(() => {});
          });
          return;
        }
        case 'freeze': {
          const role = roleOf(ev.target);
          if (!role.freeze()) {
            faults.skipped += 1;
            return;
          }
          faults.freeze += 1;
          later(ev.durationMs, () => role.thaw());
          return;
        }
        case 'cut':
          faults.cut += 1;
          proxyOf(ev.target).cut();
          return;
        case 'stall': {
          const proxy = proxyOf(ev.target);
          if (proxy.stalled) {
            faults.skipped += 1;
            return;
          }
          faults.stall += 1;
          proxy.stall();
          later(ev.durationMs, () => proxy.resume());
          return;
        }
        case 'pg-terminate': {
          /** @type {Record<string, string[]>} */
          const applicationNames = {
            // In WAL mode: the relay's pool, and its replication connection in place of the listener.
            'relay-pool': o.relayMode === 'wal' ? ['txbox-wal-relay'] : ['txbox-outbox-relay'],
            'relay-listener': o.relayMode === 'wal' ? [`txbox-wal-relay ${slotName}`] : ['txbox-outbox-listener'],
            'inbox-a': [`txbox-inbox ${groupA.name}`],
            'inbox-b': [`txbox-inbox ${groupB.name}`],
          };
          const names = applicationNames[ev.target ?? ''];
          if (!admin) throw new Error('the admin pool is not open');
          const { rows } = await admin.query(
            `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
             WHERE datname = $1 AND application_name = ANY($2) AND pid <> pg_backend_pid()`,
            [database, names],
          );
          faults['pg-terminate'] += 1;
          faults['pg-backends-terminated'] += rows[0]?.n ?? 0;
          return;
        }
        case 'broker-restart': {
          const foreign = await waitForQuietBroker(tag, o.quietBrokerWaitMs, log);
          if (foreign.length) log(`restarting RabbitMQ although other connections are open: ${foreign.join(', ')}`);
          log(`RabbitMQ stop_app (down for ${ev.durationMs} ms)`);
          await stopBrokerApp();
          faults['broker-restart'] += 1;
          await sleep(ev.durationMs ?? 0);
          await startBrokerApp();
          log('RabbitMQ start_app done, broker back');
          return;
        }
        case 'node-kill': {
          // One node at a time (a restart can take longer than the gap to the next kill under load):
          // two down at once would cost the quorum queues their majority, which is not this fault.
          if (nodeDown) {
            faults.skipped += 1;
            return;
          }
          const node = /** @type {1 | 2 | 3} */ (Number(ev.target));
          nodeDown = true;
          try {
            log(`RabbitMQ node ${node} SIGKILL (down for ${ev.durationMs} ms)`);
            await killNode(node);
            faults['node-kill'] += 1;
            await sleep(ev.durationMs ?? 0);
            await startNode(node);
            log(`RabbitMQ node ${node} back in the cluster`);
          } finally {
            nodeDown = false;
          }
          return;
        }
        case 'raw-poison': {
          const variants = rawPoisonVariants();
          if (!amqp) throw new Error('the broker connection is not open');
          await publishRaw(amqp, exchange, variants);
          for (const v of variants)
            rawExpected.push({ chaosId: v.chaosId, messageId: v.messageId, reason: v.reason, name: v.name });
          faults['raw-poison'] += 1;
          return;
        }
      }
    };
    for (const ev of schedule) {
      const t = setTimeout(() => {
        timers.delete(t);
        track(
          execute(ev).catch((error) => {
            log(`fault ${ev.kind} ${ev.target ?? ''} failed: ${error.message}`);
          }),
        );
      }, ev.at);
      timers.add(t);
    }
    const progress = setInterval(async () => {
      try {
        if (!chaosPool || !tap) return;
        const { rows } = await chaosPool.query(
          `SELECT (SELECT count(*) FROM chaos.ledger)::int AS committed, (SELECT count(*) FROM chaos.effects)::int AS effects,
             (SELECT count(*) FROM txbox.outbox WHERE published_at IS NULL)::int AS outbox`,
        );
        const up = PROCESS_TARGETS.filter((n) => roleOf(n).isUp).length;
        log(
          `progress: committed ${rows[0].committed}, effects ${rows[0].effects}, outbox ${rows[0].outbox}, processes up ${up}/${PROCESS_TARGETS.length}, tap ${tap.records.length}, faults ${JSON.stringify(faults)}`,
        );
      } catch {}
    }, 15_000);
    await sleep(o.durationMs);

    // --- settle ----------------------------------------------------------------------------------
    log('workload over: stopping producers and faults');
    await Promise.all(producers.map((p) => p.stop(30_000)));
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const r of Object.values(roles)) r.thaw(); // their thaw timers were just cleared
    for (const p of Object.values(proxies)) {
      p.resume();
      p.restore();
    }
    await Promise.allSettled([...pending]);
    for (const p of Object.values(proxies)) p.resume();
    await ensureBrokerRunning(log);
    if (onCluster) await ensureClusterUp();
    for (const n of PROCESS_TARGETS) {
      const role = roleOf(n);
      if (!role.isUp) role.start().catch(() => {});
    }
    await Promise.all(
      PROCESS_TARGETS.map((n) =>
        roleOf(n)
          .waitReady(60_000)
          .catch((e) => log(e.message)),
      ),
    );
    log(`settling (at most ${o.settleTimeoutMs / 1000}s)`);
    const settleStart = Date.now();
    const { rows: expectRows } = await chaosPool.query(
      `SELECT count(*) FILTER (WHERE expect = 'apply')::int AS apply, count(*) FILTER (WHERE expect <> 'apply')::int AS poison FROM chaos.ledger`,
    );
    const expectApply = expectRows[0].apply;
    const expectPoison = expectRows[0].poison + rawExpected.length;
    const workQueues = topologies.flatMap((t) => [
      ...(t.partitions ? t.partitions.queues : [t.queue]),
      ...t.delayQueues.map((d) => d.name),
    ]);
    let settled = false;
    let quietSince = 0;
    let last = '';
    while (Date.now() - settleStart < o.settleTimeoutMs) {
      const { rows } = await chaosPool.query(
        `SELECT (SELECT count(*) FROM txbox.outbox WHERE published_at IS NULL)::int AS pending,
           (SELECT count(*) FROM txbox.outbox WHERE published_at IS NULL AND available_at <= now()
              AND (lease_expires_at IS NULL OR lease_expires_at <= now()))::int AS due,
           (SELECT json_object_agg(grp, n) FROM (SELECT e.grp, count(DISTINCT e.message_id)::int AS n
              FROM chaos.effects e JOIN chaos.ledger l ON l.id = e.message_id AND l.expect = 'apply' GROUP BY e.grp) x) AS applied`,
      );
      const depths = await queueDepths(amqp, [...workQueues, ...topologies.map((t) => t.deadLetterQueue)]);
      const busy = workQueues.reduce((n, q) => n + (depths[q] ?? 0), 0);
      const applied = rows[0].applied ?? {};
      const allApplied = groups.every((g) => (applied[g.name] ?? 0) >= expectApply);
      const allDead = topologies.every((t) => (depths[t.deadLetterQueue] ?? 0) >= expectPoison);
      const state = `outbox pending ${rows[0].pending} (due ${rows[0].due}), queued ${busy}, applied ${groups.map((g) => `${g.label}=${applied[g.name] ?? 0}`).join(' ')}/${expectApply}, dead letters ${topologies.map((t) => depths[t.deadLetterQueue] ?? 0).join('/')}/${expectPoison}`;
      if (state !== last) log(`settle: ${state}`);
      last = state;
      if (rows[0].pending === 0 && busy === 0 && allApplied && allDead) {
        quietSince ||= Date.now();
        if (Date.now() - quietSince > 3000) {
          settled = true;
          break;
        }
      } else {
        quietSince = 0;
      }
      await sleep(1000);
    }
    clearInterval(progress);
    log(settled ? `settled in ${((Date.now() - settleStart) / 1000).toFixed(1)}s` : 'NOT settled within the timeout');
    if (!settled) {
      // What was stuck, captured before anything is stopped or dropped.
      const diagnostics = await collectDiagnostics(admin, chaosPool, database).catch((e) => ({ error: e.message }));
      writeFileSync(join(runDir, 'diagnostics.json'), JSON.stringify(diagnostics, null, 2));
      log(`diagnostics (diagnostics.json): ${JSON.stringify(diagnostics).slice(0, 3000)}`);
    }

    // --- stop everything gracefully, then look ------------------------------------------------
    const stops = await Promise.all(
      PROCESS_TARGETS.map(async (n) => /** @type {const} */ ([n, await roleOf(n).stop(20_000)])),
    );
    for (const [n, exit] of stops) if (exit.signal === 'SIGKILL') log(`${n} did not stop within 20 s (SIGKILLed)`);
    await tap.drain(amqp, tapQueue);
    await tap.stop();
    const leftoverDepths = await queueDepths(amqp, workQueues);
    const deadLetters = new Map();
    for (const [i, g] of groups.entries()) {
      const topology = topologies[i];
      if (topology) deadLetters.set(g.name, await readDeadLetters(amqp, topology.deadLetterQueue));
    }
    const { rows: ledger } = await chaosPool.query('SELECT id::text, kind, key, key_seq, expect FROM chaos.ledger');
    const { rows: effects } = await chaosPool.query(
      'SELECT applied_seq::text, grp, message_id::text, key, key_seq, prev_max, instance, attempt FROM chaos.effects',
    );
    const { rows: outboxRows } = await chaosPool.query(
      `SELECT count(*)::int AS pending, count(*) FILTER (WHERE available_at <= now())::int AS due
       FROM txbox.outbox WHERE published_at IS NULL`,
    );
    const { rows: outboxDead } = await chaosPool.query(
      'SELECT id::text, type, reason, last_error FROM txbox.outbox_dead_letter',
    );
    const checked = check({
      groups,
      ledger,
      rolledBack,
      effects,
      failedAttempts,
      deadLetters,
      rawExpected,
      tap: tap.records,
      outbox: { pending: outboxRows[0].pending, due: outboxRows[0].due, deadLetters: outboxDead },
      leftovers: Object.entries(leftoverDepths).map(([queue, messages]) => ({ queue, messages })),
      crashes,
      boundary,
      strictOrder: o.strictOrder,
    });
    if (!settled) checked.violations.unshift(`the system did not settle within ${o.settleTimeoutMs / 1000}s`);
    checked.ok = checked.violations.length === 0;
    const { ok, ...verdict } = checked;
    result = {
      seed,
      ok,
      durationMs: o.durationMs,
      settled,
      faults,
      producers: producerStats,
      restarts: Object.fromEntries(PROCESS_TARGETS.map((n) => [n, roleOf(n).restarts])),
      rebalances: Object.fromEntries(groups.map((g) => [g.label, rebalances.get(g.name)])),
      ...verdict,
      boundaryResults: boundary,
      runDir,
    };
    writeFileSync(join(runDir, 'report.json'), JSON.stringify(result, null, 2));
    return result;
  } catch (error) {
    const stack = error instanceof Error ? error.stack : undefined;
    log(`run aborted: ${stack ?? error}`);
    result = {
      seed,
      ok: false,
      aborted: String(stack ?? error),
      faults,
      violations: [`run aborted: ${error instanceof Error ? error.message : String(error)}`],
      findings: [],
      runDir,
    };
    return result;
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const r of Object.values(roles)) r.thaw();
    await ensureBrokerRunning(log);
    if (cluster) await ensureClusterUp().catch((e) => log(`cluster restart failed: ${e.message}`));
    for (const p of Object.values(proxies)) {
      p.resume();
      p.restore();
    }
    await Promise.all(Object.values(roles).map((r) => r.stop(10_000).catch(() => {})));
    killAllChildren();
    await tap?.stop().catch(() => {});
    for (const p of Object.values(proxies)) await p.close().catch(() => {});
    if (!o.keep && amqp) {
      await withChannel(amqp, async (ch) => {
        // Queues, the partition exchange and the run's exchange.
        for (const g of groups) await deleteTopology(ch, topologyOf(g, exchange, queueType));
        await ch.deleteQueue(`${tag}.tap`);
      }).catch((e) => log(`broker cleanup failed: ${e.message}`));
    }
    await amqp?.close().catch(() => {});
    if (cluster?.startedByUs && !o.keep) await stopCluster().catch((e) => log(`cluster stop failed: ${e.message}`));
    await chaosPool?.end().catch(() => {});
    if (admin) {
      if (!o.keep) await dropDatabase(admin, database).catch((e) => log(`dropping ${database} failed: ${e.message}`));
      await admin.end().catch(() => {});
    }
    for (const r of Object.values(roles)) await r.close();
    if (brokerStoppedByUs()) log('WARNING: RabbitMQ may still be stopped: run `rabbitmqctl start_app`');
  }
}

/**
 * Runs workers/boundary.mjs and collects its results; a case that never reports is a hang.
 * @param {{ chaosDbUrl: string, amqpUrl: string, exchange: string, runDir: string }} where
 * @returns {Promise<BoundaryResult[]>}
 */
async function runBoundary({ chaosDbUrl, amqpUrl, exchange, runDir }) {
  /** @type {BoundaryResult[]} */
  const results = [];
  const role = new Role({
    name: 'boundary',
    script: join(workers, 'boundary.mjs'),
    env: { CHAOS_DATABASE_URL: chaosDbUrl, CHAOS_AMQP_URL: amqpUrl, CHAOS_EXCHANGE: exchange },
    runDir,
    onLine: (line) => {
      if (line.startsWith('RESULT ')) results.push(JSON.parse(line.slice(7)));
      if (line === 'DONE') done();
    },
    onCrash: (crash) => {
      results.push({ area: 'process', name: 'boundary process', ok: false, expect: 'no crash', got: crash });
      done();
    },
  });
  role.autoRestart = false;
  /** @type {() => void} */
  let done = () => {};
  /** @type {Promise<void>} */
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  role.start().catch(() => {});
  const inTime = await Promise.race([finished.then(() => true), sleep(180_000).then(() => false)]);
  if (!inTime)
    results.push({
      area: 'process',
      name: 'boundary checks',
      ok: false,
      expect: 'finish',
      got: 'HANG: no DONE within 180 s',
    });
  await role.stop(2000);
  await role.close();
  return results;
}

/** Backends of the chaos database (with their locks and waits) and the outbox's pending rows. */
/**
 * @param {pg.Pool} admin
 * @param {pg.Pool} chaosPool
 * @param {string} database
 */
async function collectDiagnostics(admin, chaosPool, database) {
  const { rows: backends } = await admin.query(
    `SELECT a.pid, a.application_name, a.state, a.wait_event_type, a.wait_event,
       round(extract(epoch FROM now() - a.xact_start))::int AS xact_age_s,
       round(extract(epoch FROM now() - a.state_change))::int AS state_age_s,
       pg_blocking_pids(a.pid) AS blocked_by, left(a.query, 160) AS query,
       (SELECT array_agg(l.locktype || ':' || l.mode || CASE WHEN l.granted THEN '' ELSE ' (waiting)' END)
          FROM pg_locks l WHERE l.pid = a.pid AND l.locktype IN ('advisory', 'transactionid', 'tuple')) AS locks
     FROM pg_stat_activity a WHERE a.datname = $1 AND a.pid <> pg_backend_pid() ORDER BY a.xact_start NULLS LAST`,
    [database],
  );
  const { rows: outbox } = await chaosPool.query(
    `SELECT lease_owner, count(*)::int AS n, min(seq)::text AS min_seq, max(attempts) AS max_attempts,
       round(extract(epoch FROM now() - min(available_at)))::int AS oldest_due_s,
       round(extract(epoch FROM max(lease_expires_at) - now()))::int AS lease_left_s
     FROM txbox.outbox WHERE published_at IS NULL GROUP BY lease_owner`,
  );
  return { backends, outbox };
}

/**
 * @param {pg.Pool} admin
 * @param {string} database
 */
async function dropDatabase(admin, database) {
  await admin.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database],
  );
  // A database with a replication slot cannot be dropped, and a slot left behind holds WAL on the
  // shared disk: drop the slots of this database (WAL profile) first.
  // A walsender just terminated may hold its slot for a moment longer.
  for (let attempt = 0; attempt < 50; attempt++) {
    const { rows } = await admin.query('SELECT slot_name, active FROM pg_replication_slots WHERE database = $1', [
      database,
    ]);
    if (rows.length === 0) break;
    for (const slot of rows.filter((r) => !r.active)) {
      await admin.query('SELECT pg_drop_replication_slot($1)', [slot.slot_name]).catch(() => {});
    }
    await sleep(200);
  }
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
}

/**
 * A consumer group of the run: its instances (process names) and, when partitioned, the
 * `partitions` option they all run with.
 * @typedef {object} ChaosGroup
 * @property {string} label
 * @property {string} name
 * @property {number} instances
 * @property {readonly string[]} consumers
 * @property {{ count: number, rebalanceIntervalMs: number, leaseMs: number } | null} partitions
 */

/**
 * The group's topology, as its consumers declare it.
 * @param {ChaosGroup} g
 * @param {string} exchange
 * @param {'classic' | 'quorum'} queueType
 */
function topologyOf(g, exchange, queueType) {
  return groupTopology({
    group: g.name,
    exchange,
    retryDelaysMs: CONSUMER_RETRY_DELAYS_MS,
    bindings: HANDLED_TYPES,
    queueType,
    partitionCount: g.partitions?.count,
  });
}

/**
 * Runs fn on a fresh channel of the orchestrator's own (direct, reconnecting) connection.
 * @template T
 * @param {AmqpConnection} amqp
 * @param {(ch: Channel) => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function withChannel(amqp, fn, timeoutMs = 60_000) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const work = (async () => {
    const model = await amqp.channelModel();
    const ch = await model.createChannel();
    ch.on('error', () => {});
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => {});
    }
  })();
  /** @type {Promise<never>} */
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`broker operation timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Message count per queue; -1 where it could not be read.
 * @param {AmqpConnection} amqp
 * @param {readonly string[]} queues
 */
async function queueDepths(amqp, queues) {
  /** @type {Record<string, number>} */
  const depths = {};
  for (const q of queues) {
    try {
      depths[q] = await withChannel(amqp, async (ch) => (await ch.checkQueue(q)).messageCount, 10_000);
    } catch {
      depths[q] = -1;
    }
  }
  return depths;
}

/**
 * Reads a dead-letter queue without consuming it (the channel closes with everything unacked).
 * @param {AmqpConnection} amqp
 * @param {string} queue
 */
async function readDeadLetters(amqp, queue) {
  return withChannel(amqp, async (ch) => {
    /** @type {import('./checker.mjs').DeadLetterEntry[]} */
    const out = [];
    for (;;) {
      const m = await ch.get(queue, { noAck: false });
      if (!m) return out;
      const h = m.properties.headers ?? {};
      let history = null;
      try {
        history = JSON.parse(String(h['x-txbox-attempt-history']));
      } catch {}
      out.push({
        messageId: m.properties.messageId ?? null,
        chaosId: h['x-chaos-id'] ?? null,
        type: m.properties.type,
        reason: h['x-txbox-dead-letter-reason'] ?? null,
        error: h['x-txbox-error'] ?? null,
        group: h['x-txbox-group'] ?? null,
        history,
      });
    }
  });
}

/**
 * Publishes malformed deliveries with confirms, waiting for the broker if it is down.
 * @param {AmqpConnection} amqp
 * @param {string} exchange
 * @param {readonly import('./raw-poison.mjs').RawPoison[]} variants
 */
async function publishRaw(amqp, exchange, variants) {
  for (let attempt = 1; ; attempt++) {
    try {
      const model = await amqp.channelModel();
      const ch = await model.createConfirmChannel();
      ch.on('error', () => {});
      for (const v of variants) ch.publish(exchange, v.routingKey, v.content, v.properties);
      await ch.waitForConfirms();
      await ch.close().catch(() => {});
      return;
    } catch (error) {
      // Publishing again is safe: duplicates are at-least-once copies the checker tolerates.
      if (attempt >= 20) throw error;
      await sleep(1000);
    }
  }
}

/** A consumer of the tap queue (bound to everything): the order the broker received publications in. */
class Tap {
  /**
   * @param {AmqpConnection} amqp
   * @param {string} queue
   */
  constructor(amqp, queue) {
    this.amqp = amqp;
    this.queue = queue;
    /** @type {{ id: string | undefined, key: string | undefined, redelivered: boolean }[]} */
    this.records = [];
    this.stopped = false;
    /** @type {Channel | undefined} */
    this.channel = undefined;
  }

  async start() {
    this.stopped = false;
    await this.#open();
  }

  async #open() {
    if (this.stopped) return;
    try {
      const model = await this.amqp.channelModel();
      const ch = await model.createChannel();
      ch.on('error', () => {});
      ch.on('close', () => {
        if (this.channel === ch) this.channel = undefined;
        if (!this.stopped) setTimeout(() => this.#open(), 500);
      });
      await ch.prefetch(500);
      this.channel = ch;
      await ch.consume(this.queue, (m) => {
        if (!m) return;
        const h = m.properties.headers ?? {};
        this.records.push({
          id: m.properties.messageId,
          key: typeof h['x-txbox-key'] === 'string' ? h['x-txbox-key'] : undefined,
          redelivered: m.fields.redelivered,
        });
        ch.ack(m);
      });
    } catch {
      if (!this.stopped) setTimeout(() => this.#open(), 500);
    }
  }

  /**
   * Waits until the tap queue is empty (everything published has been seen).
   * @param {AmqpConnection} amqp
   * @param {string} queue
   */
  async drain(amqp, queue, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const depth = (await queueDepths(amqp, [queue]))[queue];
      if (depth === 0) {
        await sleep(500);
        return;
      }
      await sleep(500);
    }
  }

  async stop() {
    this.stopped = true;
    const ch = this.channel;
    this.channel = undefined;
    if (ch) await ch.close().catch(() => {});
  }
}
