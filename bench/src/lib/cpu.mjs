// Where the CPU time of a phase went: this Node process, PostgreSQL (every postgres process,
// plus what the postmaster reaped from backends that exited) and RabbitMQ (beam.smp). Read from
// /proc, so it sees the services only when they run on this machine (null otherwise).
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const TICK_MS = 10; // USER_HZ is 100 on Linux

function readStat(pid) {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = raw.lastIndexOf(')');
    const comm = raw.slice(raw.indexOf('(') + 1, close);
    const f = raw
      .slice(close + 2)
      .split(' ')
      .map(Number);
    // f[0] = state (NaN), f[1] = ppid, f[11..14] = utime, stime, cutime, cstime
    return { pid, comm, ppid: f[1], self: f[11] + f[12], children: f[13] + f[14] };
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of all cores, from the first line of /proc/stat. */
function machineTicks() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const t = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = t[3] + (t[4] || 0);
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
  const stats = pids.map(readStat).filter(Boolean);
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

/** Starts a measurement; `stop()` returns CPU ms per side and each side's share of the wall time. */
export function cpuMeter() {
  const start = snapshot();
  return {
    stop() {
      const end = snapshot();
      if (!start || !end) return null;
      const wallMs = end.at - start.at;
      const diff = (k) => (start[k] === null || end[k] === null ? null : Math.round(end[k] - start[k]));
      const out = {
        wallMs: Math.round(wallMs),
        nodeMs: diff('nodeMs'),
        postgresMs: diff('pgMs'),
        rabbitmqMs: diff('rabbitMs'),
      };
      // Percent of one core: 200 means both cores of a 2-core machine.
      out.corePercent = {
        node: pct(out.nodeMs, wallMs),
        postgres: pct(out.postgresMs, wallMs),
        rabbitmq: pct(out.rabbitmqMs, wallMs),
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

/** Core-percent used by everything else (kernel, other processes): the benchmark's noise floor. */
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

function pct(ms, wallMs) {
  return ms === null || wallMs <= 0 ? null : Math.round((ms / wallMs) * 100);
}

/** Sums CPU measurements of several rounds. */
export function mergeCpu(list) {
  const valid = list.filter(Boolean);
  if (valid.length === 0) return null;
  const sum = (k) => (valid.some((c) => c[k] === null) ? null : valid.reduce((s, c) => s + c[k], 0));
  const wallMs = sum('wallMs');
  const out = { wallMs, nodeMs: sum('nodeMs'), postgresMs: sum('postgresMs'), rabbitmqMs: sum('rabbitmqMs') };
  const pct = (ms) => (ms === null ? null : Math.round((ms / wallMs) * 100));
  const weighted = (k) => {
    const have = valid.filter((c) => typeof c.corePercent?.[k] === 'number');
    return have.length ? Math.round(have.reduce((s, c) => s + c.corePercent[k] * c.wallMs, 0) / wallMs) : null;
  };
  out.corePercent = { node: pct(out.nodeMs), postgres: pct(out.postgresMs), rabbitmq: pct(out.rabbitmqMs) };
  out.corePercent.irq = weighted('irq');
  out.corePercent.steal = weighted('steal');
  const busy = valid.filter((c) => c.machineBusyPercent !== undefined && c.machineBusyPercent !== null);
  out.machineBusyPercent = busy.length
    ? Math.round(busy.reduce((s, c) => s + c.machineBusyPercent * c.wallMs, 0) / busy.reduce((s, c) => s + c.wallMs, 0))
    : null;
  out.corePercent.other = otherPercent(out);
  return out;
}
