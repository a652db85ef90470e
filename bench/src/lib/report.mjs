// @ts-check
// Renders results: the targets, a Markdown table (console and README), a self-contained HTML
// report with inline SVG charts, and a standalone SVG summary chart. No external assets.
import { ratio } from './common.mjs';
import { walTargets } from './wal.mjs';

/**
 * @typedef {{
 *   write: typeof import('../scenarios/write.mjs'),
 *   relay: typeof import('../scenarios/relay.mjs'),
 *   inbox: typeof import('../scenarios/inbox.mjs'),
 *   dedup: typeof import('../scenarios/dedup.mjs'),
 *   latency: typeof import('../scenarios/latency.mjs'),
 *   backlog: typeof import('../scenarios/backlog.mjs'),
 *   partitions: typeof import('../scenarios/partitions.mjs'),
 * }} ScenarioModules
 */
/** @typedef {keyof ScenarioModules} ScenarioName */
/** @typedef {{ [N in ScenarioName]: ScenarioModules[N]['defaults']['full'] }} ScenarioSettings */
/** @typedef {{ [N in ScenarioName]: Awaited<ReturnType<ScenarioModules[N]['run']>> }} ScenarioResults */

/** @typedef {{ error: string, scenarioMs?: number }} ScenarioFailure */
/**
 * A scenario's entry in the results: what its run() returned, or why it failed; run.mjs adds
 * how long it took.
 * @template T
 * @typedef {(T & { error?: undefined, scenarioMs?: number }) | ScenarioFailure} ScenarioOutcome
 */

/**
 * The machine line's facts (latest.json `machine`).
 * @typedef {object} Machine
 * @property {string} cpuModel
 * @property {number} cores
 * @property {number} memoryGb
 * @property {string} os
 * @property {string} node
 * @property {{ version: string | undefined, settings: Record<string, string> }} postgres
 * @property {{ version: string, erlang?: string }} rabbitmq
 * @property {{ database: string, amqp: string }} services redacted URLs
 */

/**
 * One target as latest.json records it (`targets`): `id` names it across runs (write.overhead,
 * relay.ratio, …), `achieved` is this run's value, `target` the bound, `better` which side of it
 * meets it.
 * @typedef {object} Target
 * @property {string} id
 * @property {string} scenario the scenario that measured it
 * @property {string} what what `achieved` is
 * @property {number | null} achieved
 * @property {number} target
 * @property {'higher' | 'lower'} better
 * @property {boolean} met
 * @property {number} score achieved ÷ target for 'higher', target ÷ achieved for 'lower' (≥ 1 when met)
 */

/**
 * Everything a run writes to latest.json (and what --render reads back): the run's context and
 * each scenario's outcome under its name.
 * @typedef {object} BenchRun
 * @property {string} suite
 * @property {number} schemaVersion
 * @property {'quick' | 'full'} mode
 * @property {string} generatedAt
 * @property {Machine} machine
 * @property {Record<string, string | undefined>} versions the git commit and package versions
 * @property {Record<string, unknown>} settings each scenario's settings, by name
 * @property {{ backgroundLoadPercent: Record<string, number | null>, waitQuietSeconds: number }} environment
 * @property {number} [durationMs]
 * @property {Target[]} [targets]
 */
/** @typedef {{ [N in ScenarioName]?: ScenarioOutcome<ScenarioResults[N]> }} ScenarioOutcomes */
/** @typedef {BenchRun & ScenarioOutcomes} BenchResults */

/**
 * Whether a scenario ran and succeeded (present, with no error message).
 * @template T
 * @param {ScenarioOutcome<T> | undefined} outcome
 * @returns {outcome is T & { error?: undefined, scenarioMs?: number }}
 */
export const succeeded = (outcome) => Boolean(outcome && !outcome.error);

/**
 * A nullable number as arithmetic and comparisons see it: null is 0, undefined NaN.
 * @param {number | null | undefined} v
 */
const num = (v) => Number(v);

/**
 * @param {number | null | undefined} n
 * @param {number} [digits]
 */
const fmt = (n, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n)
    ? '–'
    : Number(n).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/**
 * @param {string} id
 * @param {string} scenario
 * @param {string} what
 * @param {number | null | undefined} achieved
 * @param {number} bound
 * @param {'higher' | 'lower'} better
 * @returns {Target}
 */
function target(id, scenario, what, achieved, bound, better) {
  const value = typeof achieved === 'number' && Number.isFinite(achieved) ? achieved : null;
  const met = value !== null && (better === 'higher' ? value >= bound : value <= bound);
  const score = value === null ? 0 : better === 'higher' ? value / bound : value === 0 ? 10 : bound / value;
  return { id, scenario, what, achieved: value, target: bound, better, met, score };
}

/** @param {Target | undefined} t */
export const bound = (t) => (t ? `${t.better === 'higher' ? '≥' : '≤'} ${t.target}` : '');

/**
 * Every target this run measured (a scenario that did not run or failed has none).
 * @param {BenchResults} r
 * @returns {Target[]}
 */
export function evaluateTargets(r) {
  /** @type {Target[]} */
  const t = [];
  if (succeeded(r.write)) {
    t.push(
      target('write.overhead', 'write', 'bare tx/s ÷ txbox tx/s, default writer options', r.write.ratio, 1.25, 'lower'),
    );
  }
  if (succeeded(r.relay)) {
    t.push(target('relay.ratio', 'relay', '1 relay ÷ raw confirm publish', r.relay.ratio, 0.9, 'higher'));
  }
  if (succeeded(r.inbox)) {
    t.push(
      target(
        'inbox.vsHandWritten',
        'inbox',
        'default consumer ÷ hand-written consumer',
        r.inbox.ratioToHandWritten,
        1,
        'higher',
      ),
      target(
        'inbox.vsRawTx',
        'inbox',
        'default consumer ÷ raw one-insert transactions (backlog)',
        r.inbox.ratio,
        1,
        'higher',
      ),
    );
  }
  if (succeeded(r.dedup)) {
    const designs = r.dedup.designs ?? [r.dedup];
    const ok = designs.every((d) => d.effects === d.unique && d.lost === 0 && d.appliedTwice === 0);
    t.push(
      target(
        'dedup.exact',
        'dedup',
        'effects = unique and lost = 0 in every design (1 = yes)',
        ok ? 1 : 0,
        1,
        'higher',
      ),
    );
  }
  if (succeeded(r.latency)) {
    const l = r.latency;
    const at = l.rates?.find((x) => x.rate === l.targetRate) ?? l.rates?.at(-1);
    t.push(
      target(
        'latency.p99Ms',
        'latency',
        `p99 commit → handler committed, ${at?.rate ?? l.rate} msg/s (ms)`,
        at?.txbox?.p99Ms ?? l.notify?.p99Ms,
        25,
        'lower',
      ),
    );
    if (at?.dualWrite) {
      t.push(
        target(
          'latency.p99Ratio',
          'latency',
          `p99 txbox ÷ dual write, ${at.rate} msg/s`,
          ratio(at.txbox?.p99Ms, at.dualWrite.p99Ms),
          1.5,
          'lower',
        ),
      );
    }
    const cpu = l.cpuPerMessage;
    if (cpu?.ratio !== undefined && cpu.ratio !== null) {
      t.push(
        target(
          'cpu.perMessageRatio',
          'latency',
          `CPU µs per message (Node + PostgreSQL), txbox ÷ dual write, ${cpu.rate} msg/s`,
          cpu.ratio,
          1.3,
          'lower',
        ),
      );
    }
  }
  if (succeeded(r.backlog)) {
    t.push(
      target(
        'backlog.claimRatio',
        'backlog',
        'claim behind a large backlog ÷ behind a small one',
        r.backlog.ratio,
        2,
        'lower',
      ),
    );
  }
  if (succeeded(r.partitions)) {
    t.push(
      target(
        'partitions.scale4',
        'partitions',
        '4 partitioned instances ÷ 1, msg/s draining a keyed backlog',
        r.partitions.scale4,
        1.5,
        'higher',
      ),
    );
  }
  t.push(...walTargets(r, { target, succeeded }));
  return t;
}

/** @param {boolean | undefined} met */
const yes = (met) => (met ? '✓ met' : '✗ missed');

/**
 * Markdown: the results table, then the machine line.
 * @param {BenchResults} r
 */
export function markdownTable(r) {
  const header = ['scenario', 'txbox', 'baseline', 'ratio', 'target', ''];
  const rows = [header];
  const targets = Object.fromEntries(evaluateTargets(r).map((x) => [x.id, x]));
  /** @param {ScenarioName} name */
  const err = (name) => rows.push([name, `failed: ${r[name]?.error}`, '', '', '', yes(false)]);
  if (r.write) {
    if (!succeeded(r.write)) err('write');
    else {
      const w = r.write;
      rows.push([
        `write, ${w.clients} clients, a relay draining`,
        `${fmt(w.txbox.txPerSec)} tx/s (p50 ${w.txbox.p50Ms} / p99 ${w.txbox.p99Ms} ms)`,
        `${fmt(w.baseline.txPerSec)} tx/s (p50 ${w.baseline.p50Ms} / p99 ${w.baseline.p99Ms} ms)`,
        `${w.ratio}× overhead`,
        bound(targets['write.overhead']),
        yes(targets['write.overhead']?.met),
      ]);
      if (w.txboxAsleep) {
        rows.push([
          'write, no relay awake (every commit notifies)',
          `${fmt(w.txboxAsleep.txPerSec)} tx/s (p50 ${w.txboxAsleep.p50Ms} / p99 ${w.txboxAsleep.p99Ms} ms)`,
          'same baseline',
          `${w.ratioAsleep}× overhead`,
          '(context)',
          '',
        ]);
      }
      rows.push([
        'write, notify: false',
        `${fmt(w.txboxNoNotify.txPerSec)} tx/s (p50 ${w.txboxNoNotify.p50Ms} / p99 ${w.txboxNoNotify.p99Ms} ms)`,
        'same baseline',
        `${w.ratioNoNotify}× overhead`,
        '(context)',
        '',
      ]);
      if (w.txboxWal) {
        rows.push([
          'write, WAL mode, a WAL relay streaming',
          `${fmt(w.txboxWal.txPerSec)} tx/s (p50 ${w.txboxWal.p50Ms} / p99 ${w.txboxWal.p99Ms} ms)`,
          'same baseline',
          `${w.walRatio}× overhead`,
          bound(targets['wal.write.overhead']),
          yes(targets['wal.write.overhead']?.met),
        ]);
      }
    }
  }
  if (r.relay) {
    if (!succeeded(r.relay)) err('relay');
    else {
      for (const run of r.relay.runs) {
        rows.push([
          `relay, ${run.relays} relay${run.relays > 1 ? 's' : ''} (${fmt(r.relay.messages)} × ${r.relay.payloadBytes} B)`,
          `${fmt(run.msgsPerSec)} msg/s`,
          `raw confirm publish ${fmt(r.relay.ceilingPerSec)} msg/s`,
          `${run.ratio}`,
          run.relays === r.relay.runs[0]?.relays ? bound(targets['relay.ratio']) : '(context)',
          run.relays === r.relay.runs[0]?.relays ? yes(targets['relay.ratio']?.met) : '',
        ]);
      }
      if (r.relay.wal) {
        rows.push([
          `relay, 1 WAL relay from its slot (${fmt(r.relay.messages)} × ${r.relay.payloadBytes} B)`,
          `${fmt(r.relay.wal.msgsPerSec)} msg/s`,
          `raw confirm publish ${fmt(r.relay.ceilingPerSec)} msg/s`,
          `${r.relay.wal.ratio}`,
          bound(targets['wal.relay.ratio']),
          yes(targets['wal.relay.ratio']?.met),
        ]);
      }
    }
  }
  if (r.inbox) {
    if (!succeeded(r.inbox)) err('inbox');
    else {
      const i = r.inbox;
      rows.push([
        `inbox, default options, concurrency ${i.concurrency} (${fmt(i.messages)} msgs)`,
        `${fmt(i.msgsPerSec)} msg/s`,
        `raw 1-insert tx ${fmt(i.rawTxPerSec)}/s · raw consume+ack ${fmt(i.rawConsumePerSec)}/s`,
        `${i.ratio} · ${i.ratioToRawConsume}`,
        `${bound(targets['inbox.vsRawTx'])} (of raw tx)`,
        yes(targets['inbox.vsRawTx']?.met),
      ]);
      rows.push([
        'inbox vs hand-written consumer',
        `${fmt(i.msgsPerSec)} msg/s`,
        `consume + 1-insert tx + ack ${fmt(i.handWrittenPerSec)}/s`,
        `${i.ratioToHandWritten}`,
        bound(targets['inbox.vsHandWritten']),
        yes(targets['inbox.vsHandWritten']?.met),
      ]);
      if (i.singlePerSec) {
        rows.push([
          'inbox, batch.maxMessages 1 (one tx per delivery)',
          `${fmt(i.singlePerSec)} msg/s`,
          `raw 1-insert tx ${fmt(i.rawTxPerSec)}/s · hand-written ${fmt(i.handWrittenPerSec)}/s`,
          `${i.singleRatio} · ${i.singleToHandWritten}`,
          '(context)',
          '',
        ]);
      }
    }
  }
  if (r.dedup) {
    if (!succeeded(r.dedup)) err('dedup');
    else {
      for (const d of r.dedup.designs ?? [r.dedup]) {
        const design = d.batchMessages > 1 ? `default options (batches ≤ ${d.batchMessages})` : 'one tx per delivery';
        const ok = d.effects === d.unique && d.lost === 0 && d.appliedTwice === 0;
        rows.push([
          `dedup, ${fmt(d.unique)} ids × ${d.copies}, restart; ${design}`,
          `${fmt(d.deliveries)} deliveries → ${fmt(d.effects)} effects, ${fmt(d.duplicatesSkipped)} skipped, ${d.lost} lost, ${fmt(d.msgsPerSec)} deliveries/s`,
          `${fmt(d.unique)} unique ids`,
          '',
          'effects = unique, lost = 0',
          yes(ok),
        ]);
        if (d.cost) {
          rows.push([
            `dedup, cost per message; ${design}`,
            `duplicate ${fmt(d.cost.duplicateUs)} µs`,
            `new message ${fmt(d.cost.newUs)} µs`,
            `${d.cost.duplicateCostVsNew}`,
            '(context)',
            '',
          ]);
        }
      }
    }
  }
  if (r.latency) {
    if (!succeeded(r.latency)) err('latency');
    else {
      const l = r.latency;
      /** @param {{ p50Ms: number | null, p95Ms: number | null, p99Ms: number | null } | undefined} m */
      const p = (m) => (m ? `p50 ${m.p50Ms} / p95 ${m.p95Ms} / p99 ${m.p99Ms} ms` : '–');
      for (const at of l.rates ?? []) {
        const headline = at.rate === l.targetRate;
        rows.push([
          `latency, ${at.rate} msg/s for ${l.durationMs / 1000} s`,
          `txbox (defaults): ${p(at.txbox)}`,
          `dual write: ${p(at.dualWrite)}`,
          `${ratio(at.txbox?.p99Ms, at.dualWrite?.p99Ms) ?? '–'} (p99)`,
          headline
            ? `p99 ${bound(targets['latency.p99Ms'])} ms; ratio ${bound(targets['latency.p99Ratio'])}`
            : '(context)',
          headline ? yes(targets['latency.p99Ms']?.met && targets['latency.p99Ratio']?.met) : '',
        ]);
        if (at.wal) {
          rows.push([
            `latency, WAL mode, ${at.rate} msg/s`,
            `txbox WAL mode: ${p(at.wal)}`,
            `table mode: ${p(at.txbox)}`,
            `${ratio(at.wal.p99Ms, at.txbox?.p99Ms) ?? '–'} (p99)`,
            headline ? `p99 ${bound(targets['wal.latency.p99Ms'])} ms` : '(context)',
            headline ? yes(targets['wal.latency.p99Ms']?.met) : '',
          ]);
        }
      }
      if (l.polling) {
        rows.push([
          `latency, polling only (${l.pollIntervalMs} ms), ${l.rate} msg/s`,
          p(l.polling),
          'txbox defaults, above',
          '',
          '(context)',
          '',
        ]);
      }
      const c = l.cpuPerMessage;
      if (c?.txbox && c.dualWrite) {
        /** @param {{ nodeUs: number | null, postgresUs: number | null, rabbitmqUs: number | null, totalUs: number | null }} x */
        const u = (x) => `${x.totalUs} µs (Node ${x.nodeUs} + PostgreSQL ${x.postgresUs}; RabbitMQ ${x.rabbitmqUs})`;
        rows.push([
          `CPU per message, ${c.rate} msg/s end to end`,
          `txbox: ${u(c.txbox)}`,
          `dual write: ${u(c.dualWrite)}`,
          `${c.ratio}`,
          bound(targets['cpu.perMessageRatio']),
          yes(targets['cpu.perMessageRatio']?.met),
        ]);
      }
    }
  }
  if (r.backlog) {
    if (!succeeded(r.backlog)) err('backlog');
    else {
      const b = r.backlog;
      const k = Object.keys(b.few)[0] ?? '';
      rows.push([
        `backlog claim, batch ${b.few[k]?.batch}`,
        `${fmt(b.backlog + b.small)} waiting: ${b.many[k]?.p50Ms} ms (${fmt(b.many[k]?.buffers)} buffers)`,
        `${b.small} waiting: ${b.few[k]?.p50Ms} ms (${fmt(b.few[k]?.buffers)} buffers)`,
        `${b.ratio}`,
        `${bound(targets['backlog.claimRatio'])} (O(batch))`,
        yes(targets['backlog.claimRatio']?.met),
      ]);
      if (b.notDueAhead) {
        rows.push([
          'backlog claim, all not yet due',
          `${fmt(b.backlog + b.small)} not due ahead of ${b.small} due: ${b.notDueAhead[k]?.p50Ms} ms (${fmt(b.notDueAhead[k]?.buffers)} buffers)`,
          `${b.small} waiting: ${b.few[k]?.p50Ms} ms`,
          `${b.notDueRatio}`,
          '(context)',
          '',
        ]);
      }
    }
  }
  if (r.partitions) {
    if (!succeeded(r.partitions)) err('partitions');
    else {
      const p = r.partitions;
      const sac = `singleActiveConsumer (${p.singleActive.instances} instances, 1 queue): ${fmt(p.singleActive.msgsPerSec)} msg/s`;
      for (const x of p.partitioned) {
        const headline = x.instances === 4;
        rows.push([
          `partitions, ${x.instances} instance${x.instances > 1 ? 's' : ''} × concurrency ${p.concurrency}, ${p.partitions} partitions (${fmt(p.messages)} keyed msgs, ${p.pauseMs} ms handler pause)`,
          `${fmt(x.msgsPerSec)} msg/s${x.sharedAfterMs === null ? '' : ` (shared out after ${fmt(x.sharedAfterMs)} ms, then ${fmt(x.afterSharedMsgsPerSec)} msg/s)`}`,
          sac,
          `${x.vsSingleActive ?? '–'} (of single active)${headline ? ` · ${p.scale4} (of 1 instance)` : ''}`,
          headline ? `${bound(targets['partitions.scale4'])} (of 1 instance)` : '(context)',
          headline ? yes(targets['partitions.scale4']?.met) : '',
        ]);
      }
    }
  }
  /** @param {string[]} cells */
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const table = [line(header), line(header.map(() => '---')), ...rows.slice(1).map(line)].join('\n');
  return `${table}\n\n${machineLine(r)}\n`;
}

/** @param {BenchResults} r */
export function machineLine(r) {
  /** @type {Partial<Machine>} (a results file from elsewhere may lack it) */
  const m = r.machine ?? {};
  return `Measured ${r.generatedAt?.slice(0, 10) ?? ''} (${r.mode} run, ${fmt((r.durationMs ?? 0) / 1000)} s) on ${m.cores} × ${m.cpuModel}, ${m.memoryGb} GB RAM, ${m.os}; Node ${m.node}, PostgreSQL ${m.postgres?.version}, RabbitMQ ${m.rabbitmq?.version}, both local; txbox ${r.versions?.commit ?? ''}.`;
}

// ---- SVG ---------------------------------------------------------------------------------

/** @type {Record<string, string>} */
const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
/** @param {unknown} s */
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ENTITIES[c] ?? c);
const COLORS = { txbox: '#2563eb', baseline: '#9ca3af', ok: '#16a34a', bad: '#dc2626', extra: '#7c3aed' };

/**
 * @typedef {object} BarRow
 * @property {string} label
 * @property {number | null | undefined} value no bar unless a positive number
 * @property {string} [color]
 * @property {string} [text] default: the value and the unit
 */

/**
 * A horizontal bar chart. rows: { label, value, color?, text? }. Optional log scale and a
 * vertical reference line { value, label }.
 * @param {{ title: string, unit?: string, rows: BarRow[], log?: boolean, line?: { value: number, label: string },
 *   width?: number }} chart
 */
export function barChart({ title, unit = '', rows, log = false, line, width = 720 }) {
  const labelW = 250;
  const valueW = 150;
  const barW = width - labelW - valueW - 20;
  const rowH = 26;
  const top = 34;
  const height = top + rows.length * rowH + 24;
  const values = rows
    .map((r) => r.value)
    .filter(/** @type {(v: number | null | undefined) => v is number} */ (v) => typeof v === 'number' && v > 0);
  const maxV = Math.max(...values, line?.value ?? 0) || 1;
  const minV = log ? Math.min(...values, line?.value ?? Number.POSITIVE_INFINITY) / 2 : 0;
  /** @param {number | null | undefined} v */
  const x = (v) => {
    if (typeof v !== 'number' || !(v > 0)) return 0;
    if (!log) return (v / maxV) * barW;
    return ((Math.log10(v) - Math.log10(minV)) / (Math.log10(maxV) - Math.log10(minV))) * barW;
  };
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="20" font-size="14" font-weight="600">${esc(title)}${log ? ' (log scale)' : ''}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, x(r.value));
    parts.push(`<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(r.label)}</text>`);
    parts.push(
      `<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" rx="2" fill="${r.color ?? COLORS.txbox}"/>`,
    );
    parts.push(
      `<text x="${labelW + w + 6}" y="${y + 16}">${esc(r.text ?? `${fmt(r.value, num(r.value) < 10 ? 2 : 0)}${unit}`)}</text>`,
    );
  });
  if (line) {
    const lx = labelW + x(line.value);
    parts.push(
      `<line x1="${lx}" x2="${lx}" y1="${top - 4}" y2="${top + rows.length * rowH}" stroke="#111" stroke-dasharray="4 3"/>`,
    );
    parts.push(`<text x="${lx + 4}" y="${top + rows.length * rowH + 14}" font-size="11">${esc(line.label)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * The targets as one chart: score = achieved ÷ target (≥ 1 met), capped for display.
 * @param {BenchResults} r
 */
export function targetsChart(r, width = 720) {
  const rows = evaluateTargets(r).map((t) => ({
    label: `${t.id}: ${bound(t)}`,
    value: Math.max(0.01, Math.min(t.score, 3)),
    color: t.met ? COLORS.ok : COLORS.bad,
    text: `${t.achieved ?? '–'} ${t.met ? 'met' : 'missed'}`,
  }));
  return barChart({
    title: 'Targets: achieved ÷ target (right of the line = met)',
    rows,
    line: { value: 1, label: 'target' },
    width,
  });
}

/**
 * Every chart, the targets first.
 * @param {BenchResults} r
 */
export function charts(r) {
  const out = [];
  out.push(targetsChart(r));
  if (succeeded(r.write)) {
    const w = r.write;
    out.push(
      barChart({
        title: `write: transactions/s, ${w.clients} clients`,
        unit: ' tx/s',
        rows: [
          { label: 'baseline (insert only)', value: w.baseline.txPerSec, color: COLORS.baseline },
          { label: 'txbox (insert + outbox.add)', value: w.txbox.txPerSec },
          { label: 'txbox, notify: false', value: w.txboxNoNotify.txPerSec, color: COLORS.extra },
        ],
      }),
      barChart({
        title: 'write: transaction latency',
        unit: ' ms',
        rows: [
          { label: 'baseline p50', value: w.baseline.p50Ms, color: COLORS.baseline },
          { label: 'baseline p99', value: w.baseline.p99Ms, color: COLORS.baseline },
          { label: 'txbox p50', value: w.txbox.p50Ms },
          { label: 'txbox p99', value: w.txbox.p99Ms },
          { label: 'txbox notify: false p50', value: w.txboxNoNotify.p50Ms, color: COLORS.extra },
          { label: 'txbox notify: false p99', value: w.txboxNoNotify.p99Ms, color: COLORS.extra },
        ],
      }),
    );
  }
  if (succeeded(r.relay)) {
    out.push(
      barChart({
        title: `relay: drain ${fmt(r.relay.messages)} × ${r.relay.payloadBytes} B messages`,
        unit: ' msg/s',
        rows: [
          { label: 'raw confirm publish (ceiling)', value: r.relay.ceilingPerSec, color: COLORS.baseline },
          ...r.relay.runs.map((x) => ({ label: `${x.relays} relay${x.relays > 1 ? 's' : ''}`, value: x.msgsPerSec })),
        ],
        line: { value: num(r.relay.ceilingPerSec) * 0.8, label: '0.8 × ceiling' },
      }),
    );
  }
  if (succeeded(r.inbox)) {
    const i = r.inbox;
    out.push(
      barChart({
        title: `inbox: consume ${fmt(i.messages)} messages, concurrency ${i.concurrency}`,
        unit: ' msg/s',
        rows: [
          { label: 'raw consume + ack (no DB)', value: i.rawConsumePerSec, color: COLORS.baseline },
          { label: 'raw 1-insert transactions', value: i.rawTxPerSec, color: COLORS.baseline },
          { label: 'hand-written consume+tx+ack', value: i.handWrittenPerSec, color: COLORS.extra },
          { label: 'txbox inbox, defaults', value: i.msgsPerSec },
          ...(i.singlePerSec ? [{ label: 'txbox inbox, one tx per delivery', value: i.singlePerSec }] : []),
        ],
        line: { value: num(i.handWrittenPerSec), label: 'hand-written' },
      }),
    );
  }
  if (succeeded(r.dedup)) {
    const d = r.dedup;
    out.push(
      barChart({
        title: `dedup under replay: ${fmt(d.unique)} ids × ${d.copies} deliveries, consumer restarted`,
        rows: [
          { label: 'deliveries', value: d.deliveries, color: COLORS.baseline },
          { label: 'unique ids', value: d.unique, color: COLORS.baseline },
          { label: 'handler effects', value: d.effects, color: d.effects === d.unique ? COLORS.ok : COLORS.bad },
          { label: 'duplicates skipped', value: d.duplicatesSkipped },
          { label: 'lost', value: d.lost, color: d.lost === 0 ? COLORS.ok : COLORS.bad, text: String(d.lost) },
        ],
      }),
    );
    const withCost = (d.designs ?? [d]).flatMap((x) => (x.cost ? [{ design: x, cost: x.cost }] : []));
    if (withCost.length) {
      /** @param {{ batchMessages: number }} x */
      const name = (x) => (x.batchMessages > 1 ? 'defaults' : 'per delivery');
      out.push(
        barChart({
          title: `dedup: wall time per message at concurrency ${withCost[0]?.cost.concurrency}`,
          unit: ' µs',
          rows: withCost.flatMap(({ design: x, cost }) => [
            { label: `new message, ${name(x)}`, value: cost.newUs, color: COLORS.baseline },
            { label: `duplicate, ${name(x)}`, value: cost.duplicateUs },
          ]),
        }),
      );
    }
  }
  if (succeeded(r.latency)) {
    const l = r.latency;
    /** @type {BarRow[]} */
    const rows = [];
    const at = l.rates?.find((x) => x.rate === l.targetRate);
    /** @type {[string, { p50Ms: number | null, p95Ms: number | null, p99Ms: number | null } | undefined, string][]} */
    const modes = [
      ['txbox', at?.txbox, COLORS.txbox],
      ['dual write', at?.dualWrite, COLORS.extra],
      [`polling ${l.pollIntervalMs} ms`, l.polling, COLORS.baseline],
    ];
    for (const [label, m, color] of modes) {
      if (!m) continue;
      for (const p of /** @type {const} */ (['p50Ms', 'p95Ms', 'p99Ms'])) {
        rows.push({ label: `${label} ${p.slice(0, 3)}`, value: m[p], color });
      }
    }
    out.push(
      barChart({
        title: `end-to-end latency, commit → handler committed, ${l.rate} msg/s`,
        unit: ' ms',
        rows,
        log: true,
        line: { value: 25, label: '25 ms target' },
      }),
    );
  }
  if (succeeded(r.backlog)) {
    const b = r.backlog;
    /** @type {BarRow[]} */
    const rows = [];
    /** @type {['few' | 'many' | 'notDueAhead', string, string][]} */
    const cases = [
      ['few', `${b.small} waiting`, COLORS.baseline],
      ['many', `${fmt(b.backlog + b.small)} waiting`, COLORS.txbox],
      ['notDueAhead', `${fmt(b.backlog)} not due ahead`, COLORS.extra],
    ];
    for (const [key, label, color] of cases) {
      const samples = b[key];
      if (!samples) continue;
      for (const m of Object.values(samples)) rows.push({ label: `${label}, batch ${m.batch}`, value: m.p50Ms, color });
    }
    out.push(barChart({ title: 'backlog: claim time (p50)', unit: ' ms', rows, log: true }));
  }
  if (succeeded(r.partitions)) {
    const p = r.partitions;
    out.push(
      barChart({
        title: `partitions: drain ${fmt(p.messages)} keyed messages, concurrency ${p.concurrency} per instance`,
        unit: ' msg/s',
        rows: [
          { label: 'singleActiveConsumer, 1 queue', value: p.singleActive.msgsPerSec, color: COLORS.baseline },
          ...p.partitioned.map((x) => ({
            label: `${x.instances} instance${x.instances > 1 ? 's' : ''}, ${p.partitions} partitions`,
            value: x.msgsPerSec,
          })),
        ],
        line: { value: num(p.singleActive.msgsPerSec), label: 'single active' },
      }),
    );
  }
  return out;
}

/**
 * Every chart stacked into one standalone SVG.
 * @param {string[]} svgs
 */
export function stackedSvg(svgs, width = 720) {
  let y = 0;
  const inner = svgs.map((svg) => {
    const height = Number(svg.match(/height="(\d+)"/)?.[1] ?? 0);
    const placed = svg.replace('<svg ', `<svg y="${y}" `);
    y += height + 12;
    return placed;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">\n<rect width="100%" height="100%" fill="#fff"/>\n${inner.join('\n')}\n</svg>\n`;
}

/**
 * The self-contained HTML report.
 * @param {BenchResults} r
 * @param {string} markdown what markdownTable(r) returned
 */
export function html(r, markdown) {
  const targets = evaluateTargets(r);
  const table = markdown
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .filter((_line, i) => i !== 1)
    .map((l, i) => {
      const cells = l.slice(2, -2).split(' | ');
      const tag = i === 0 ? 'th' : 'td';
      return `<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>txbox benchmark — ${esc(r.generatedAt)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#111;max-width:1100px}
table{border-collapse:collapse;font-size:13px;margin:12px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}.charts svg{display:block;margin:10px 0;border:1px solid #eee}
.met{color:#16a34a}.missed{color:#dc2626}pre{background:#f9fafb;padding:8px;font-size:12px;overflow:auto}
</style></head><body>
<h1>txbox benchmark</h1>
<p>${esc(machineLine(r))}</p>
<p>Targets: ${targets.map((t) => `<span class="${t.met ? 'met' : 'missed'}">${esc(t.id)} ${t.met ? 'met' : 'missed'}</span>`).join(' · ')}</p>
<table>${table}</table>
<div class="charts">${charts(r).join('\n')}</div>
<h2>Settings</h2><pre>${esc(JSON.stringify(r.settings, null, 2))}</pre>
<h2>Machine and versions</h2><pre>${esc(JSON.stringify({ machine: r.machine, versions: r.versions }, null, 2))}</pre>
</body></html>
`;
}
