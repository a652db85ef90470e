// @ts-check
// The fault schedule: a pure function of (seed, duration), printed at the start of a run so a
// failure can be replayed with --seed. Timings of the system under test are not reproducible;
// the schedule, the workload content and the targets are.
import { GROUP_A_PARTITIONS } from './contracts.mjs';
import { rng } from './rng.mjs';

/** Group A's instances (partitioned: each kill, freeze or cut of one moves partitions). */
export const GROUP_A_CONSUMERS = ['consumerA1', 'consumerA2', 'consumerA3'];
export const PROCESS_TARGETS = ['relay1', 'relay2', ...GROUP_A_CONSUMERS, 'consumerB'];
export const PG_TARGETS = ['relay-pool', 'relay-listener', 'inbox-a', 'inbox-b'];

/**
 * @typedef {object} FaultEvent
 * @property {number} at ms after the workload starts
 * @property {'kill' | 'freeze' | 'cut' | 'stall' | 'pg-terminate' | 'broker-restart' | 'node-kill' | 'raw-poison'} kind
 * @property {string} [target]
 * @property {number} [durationMs]
 */

/**
 * @param {number} seed
 * @param {number} durationMs
 * @param {{ brokerRestart?: boolean, nodeKills?: number, meanGapMs?: number }} [options]
 * @returns {FaultEvent[]} sorted by `at`
 */
export function buildSchedule(seed, durationMs, { brokerRestart = true, nodeKills = 0, meanGapMs = 1600 } = {}) {
  const random = rng(seed ^ 0x5eed);
  /** @type {FaultEvent[]} */
  const events = [];
  const end = durationMs - 1000;
  for (let at = 1500 + random.int(0, 1000); at < end; at += random.int(meanGapMs / 2, (meanGapMs * 3) / 2)) {
    const roll = random.next();
    if (roll < 0.28) {
      events.push({ at, kind: 'kill', target: random.pick(PROCESS_TARGETS), durationMs: random.int(200, 3000) });
    } else if (roll < 0.34) {
      // SIGSTOP/SIGCONT of a group-A instance: shorter or longer than the partition lease, so a
      // frozen owner sometimes keeps its partitions and sometimes loses them while its broker
      // connection (and so its single-active consumers) lives on.
      const { leaseMs } = GROUP_A_PARTITIONS;
      events.push({
        at,
        kind: 'freeze',
        target: random.pick(GROUP_A_CONSUMERS),
        durationMs: random.int(leaseMs / 2, leaseMs * 2),
      });
    } else if (roll < 0.5) {
      events.push({ at, kind: 'cut', target: random.pick(PROCESS_TARGETS) });
    } else if (roll < 0.64) {
      events.push({ at, kind: 'stall', target: random.pick(PROCESS_TARGETS), durationMs: random.int(500, 6000) });
    } else {
      events.push({ at, kind: 'pg-terminate', target: random.pick(PG_TARGETS) });
    }
  }
  // Rebalancing under failure, whatever the dice said: each group-A instance is SIGKILLed once,
  // spread over the run (a restarted one takes its share back from the others).
  for (const [i, target] of GROUP_A_CONSUMERS.entries()) {
    const slot = durationMs / (GROUP_A_CONSUMERS.length + 1);
    events.push({
      at: Math.round(slot * (i + 0.5) + random.int(0, slot / 2)),
      kind: 'kill',
      target,
      durationMs: random.int(200, 3000),
    });
  }
  // The cluster profile: broker nodes SIGKILLed one at a time (a quorum keeps its majority),
  // each restarted before the next goes down.
  for (let i = 0; i < nodeKills; i++) {
    const slot = durationMs / nodeKills;
    events.push({
      at: Math.round(slot * i + slot * (0.25 + random.next() * 0.3)),
      kind: 'node-kill',
      target: String(random.int(1, 3)),
      durationMs: random.int(3000, 8000),
    });
  }
  if (brokerRestart) {
    const at = Math.round(durationMs * (0.35 + random.next() * 0.3));
    events.push({ at, kind: 'broker-restart', durationMs: random.int(2000, 6000) });
  }
  // Malformed deliveries straight onto the exchange, three times a run.
  for (const fraction of [0.15, 0.5, 0.85]) events.push({ at: Math.round(durationMs * fraction), kind: 'raw-poison' });
  return events.sort((a, b) => a.at - b.at);
}

/** @param {readonly FaultEvent[]} events */
export function formatSchedule(events) {
  return events
    .map((e) => {
      const extra =
        e.durationMs === undefined
          ? ''
          : e.kind === 'kill'
            ? ` restart after ${e.durationMs} ms`
            : e.kind === 'freeze'
              ? ` thaw after ${e.durationMs} ms`
              : ` for ${e.durationMs} ms`;
      return `  t+${(e.at / 1000).toFixed(1).padStart(6)}s ${e.kind}${e.target ? ` ${e.target}` : ''}${extra}`;
    })
    .join('\n');
}
