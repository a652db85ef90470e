// @ts-check
// Where the CPU time of a phase went: this Node process, PostgreSQL (every postgres process,
// plus what the postmaster reaped from backends that exited) and RabbitMQ (beam.smp). Read from
// /proc, so it sees the services only when they run on this machine (null otherwise).
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/**
 * CPU time of every side of a measured phase, in ms, and each side's share of the wall time in
 * percent of one core. `null` where a side cannot be seen (the service runs elsewhere).
 * @typedef {object} CpuSplit
 * @property {number} wallMs
 * @property {number | null} nodeMs
 * @property {number | null} postgresMs
 * @property {number | null} rabbitmqMs
 * @property {CorePercent} corePercent
 * @property {number | null} [machineBusyPercent] whole machine, 100 = every core busy (when /proc/stat is readable)
 */

/**
 * Percent of one core: 200 means both cores of a 2-core machine.
 * @typedef {object} CorePercent
 * @property {number | null} node
 * @property {number | null} postgres
 * @property {number | null} rabbitmq
 * @property {number | null} [irq] interrupt/softirq time, charged to no process
 * @property {number | null} [steal] hypervisor steal
 * @property {number | null} [other] everything else (kernel, other processes)
 */

/** @typedef {{ pid: string, comm: string, ppid: number, self: number, children: number }} ProcStat */

/**
 * @param {string} pid
 * @returns {ProcStat | undefined}
 */
function readStat(pid) {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = raw.lastIndexOf(')');
    const comm = raw.slice(raw.indexOf('(') + 1, close);
    const f = raw
      .slice(close + 2)
      .split(' ')
      .map(Number);
    /** @param {number} i a missing field reads as NaN, like a non-numeric one */
    const field = (i) => f[i] ?? Number.NaN;
    // f[0] = state (NaN), f[1] = ppid, f[11..14] = utime, stime, cutime, cstime
    return { pid, comm, ppid: field(1), self: field(11) + field(12), children: field(13) + field(14) };
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of all cores, from the first line of /proc/stat. */
function machineTicks() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const t = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (t[3] ?? Number.NaN) + (t[4] || 0);
    const total = t.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total, irq: (t[5] || 0) + (t[6] || 0), steal: t[7] || 0 };
  } catch {
    return undefined;
  }
}

function snapshot() {
  let pids;
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const stats = pids.map(readStat).filter((s) => s !== undefined);
  const postgres = stats.filter((s) => s.comm === 'postgres' || s.comm.startsWith('postgres:'));
  const postgresPids = new Set(postgres.map((s) => s.pid));
  let pgTicks = 0;
  for (const s of postgres) {
    pgTicks += s.self;
    // The postmaster (a postgres process whose parent is not one) accumulates exited backends.
    if (!postgresPids.has(String(s.ppid))) pgTicks += s.children;
  }
  let rabbitTicks = 0;
  for (const s of stats) if (s.comm === 'beam.smp') rabbitTicks += s.self;
  const node = process.cpuUsage();
  return {
    at: performance.now(),
    machine: machineTicks(),
    nodeMs: (node.user + node.system) / 1000,
    pgMs: postgres.length ? pgTicks * TICK_MS : null,
    rabbitMs: rabbitTicks ? rabbitTicks * TICK_MS : null,
  };
}

/**
 * Starts a measurement; `stop()` returns CPU ms per side and each side's share of the wall time.
 * @returns {{ stop(): CpuSplit | null }}
 */
export function cpuMeter() {
  const start = snapshot();
  return {
    stop() {
      const end = snapshot();
      if (!start || !end) return null;
      const wallMs = end.at - start.at;
      /** @param {'nodeMs' | 'pgMs' | 'rabbitMs'} k */
      const diff = (k) => {
        const a = start[k];
        const b = end[k];
        return a === null || b === null ? null : Math.round(b - a);
      };
      const nodeMs = diff('nodeMs');
      const postgresMs = diff('pgMs');
      const rabbitmqMs = diff('rabbitMs');
      /** @type {CpuSplit} */
      const out = {
        wallMs: Math.round(wallMs),
        nodeMs,
        postgresMs,
        rabbitmqMs,
        // Percent of one core: 200 means both cores of a 2-core machine.
        corePercent: {
          node: pct(nodeMs, wallMs),
          postgres: pct(postgresMs, wallMs),
          rabbitmq: pct(rabbitmqMs, wallMs),
        },
      };
      // Whole machine, all processes and the kernel: 100 = every core busy.
      if (start.machine && end.machine) {
        const total = end.machine.total - start.machine.total;
        out.machineBusyPercent = total > 0 ? Math.round(((end.machine.busy - start.machine.busy) / total) * 100) : null;
        // Interrupt/softirq time (loopback networking lands here, charged to no process) and
        // hypervisor steal, in core-percent like the rest.
        const cores = availableParallelism();
        out.corePercent.irq =
          total > 0 ? Math.round(((end.machine.irq - start.machine.irq) / total) * 100 * cores) : null;
        out.corePercent.steal =
          total > 0 ? Math.round(((end.machine.steal - start.machine.steal) / total) * 100 * cores) : null;
        out.corePercent.other = otherPercent(out);
      }
      return out;
    },
  };
}

/**
 * Core-percent used by everything else (kernel, other processes): the benchmark's noise floor.
 * @param {CpuSplit} out
 */
function otherPercent(out) {
  if (out.machineBusyPercent === null || out.machineBusyPercent === undefined) return null;
  const c = out.corePercent;
  const ours = (c.node ?? 0) + (c.postgres ?? 0) + (c.rabbitmq ?? 0) + (c.irq ?? 0) + (c.steal ?? 0);
  return Math.max(0, Math.round(out.machineBusyPercent * availableParallelism() - ours));
}

/** Machine busy percent (100 = all cores) over `ms`, before a scenario: load we did not cause. */
export async function backgroundLoad(ms = 1000) {
  const a = machineTicks();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = machineTicks();
  if (!a || !b || b.total === a.total) return null;
  return Math.round(((b.busy - a.busy) / (b.total - a.total)) * 100);
}

/**
 * @param {number | null} ms
 * @param {number} wallMs
 */
function pct(ms, wallMs) {
  return ms === null || wallMs <= 0 ? null : Math.round((ms / wallMs) * 100);
}

/**
 * Sums CPU measurements of several rounds.
 * @param {readonly (CpuSplit | null | undefined)[]} list
 * @returns {CpuSplit | null}
 */
export function mergeCpu(list) {
  const valid = list.filter((c) => c !== null && c !== undefined);
  if (valid.length === 0) return null;
  /** @param {'nodeMs' | 'postgresMs' | 'rabbitmqMs'} k */
  const sum = (k) => {
    let total = 0;
    for (const c of valid) {
      const v = c[k];
      if (v === null) return null;
      total += v;
    }
    return total;
  };
  const wallMs = valid.reduce((s, c) => s + c.wallMs, 0);
  const nodeMs = sum('nodeMs');
  const postgresMs = sum('postgresMs');
  const rabbitmqMs = sum('rabbitmqMs');
  /** @param {number | null} ms */
  const pct = (ms) => (ms === null ? null : Math.round((ms / wallMs) * 100));
  /** @param {'irq' | 'steal'} k */
  const weighted = (k) => {
    const have = valid.flatMap((c) => {
      const v = c.corePercent?.[k];
      return typeof v === 'number' ? [{ v, wallMs: c.wallMs }] : [];
    });
    return have.length ? Math.round(have.reduce((s, h) => s + h.v * h.wallMs, 0) / wallMs) : null;
  };
  /** @type {CpuSplit} */
  const out = {
    wallMs,
    nodeMs,
    postgresMs,
    rabbitmqMs,
    corePercent: { node: pct(nodeMs), postgres: pct(postgresMs), rabbitmq: pct(rabbitmqMs) },
  };
  out.corePercent.irq = weighted('irq');
  out.corePercent.steal = weighted('steal');
  const busy = valid.flatMap((c) => {
    const v = c.machineBusyPercent;
    return v !== undefined && v !== null ? [{ v, wallMs: c.wallMs }] : [];
  });
  out.machineBusyPercent = busy.length
    ? Math.round(busy.reduce((s, b) => s + b.v * b.wallMs, 0) / busy.reduce((s, b) => s + b.wallMs, 0))
    : null;
  out.corePercent.other = otherPercent(out);
  return out;
}
