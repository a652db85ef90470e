// @ts-check
// The checker: from what the databases and the broker hold after the system settled, decides
// whether the run kept txbox's guarantees. Pure: takes the collected data, returns the report.
import { CONSUMER_RETRY_DELAYS_MS } from './contracts.mjs';

const MAX_ATTEMPTS = CONSUMER_RETRY_DELAYS_MS.length + 1;
const SAMPLE = 5;

/**
 * A message read back from a group's dead-letter queue.
 * @typedef {object} DeadLetterEntry
 * @property {string | null} messageId
 * @property {string | null} chaosId x-chaos-id of a raw poison delivery
 * @property {string | undefined} type
 * @property {string | null} reason
 * @property {string | null} error
 * @property {string | null} group
 * @property {{ attempt?: number }[] | null} history
 */

/** @typedef {{ id: string, type: string, reason: string, last_error: string | null }} OutboxDeadLetter */

/** @typedef {{ area: string, name: string, ok: boolean, expect: string | null, got: unknown }} BoundaryResult */

/**
 * @typedef {object} GroupReport
 * @property {string} group
 * @property {number} instances
 * @property {number | null} partitions partition count of a partitioned group, null for one queue
 * @property {number} applied
 * @property {number} effectRows
 * @property {number} lost
 * @property {number} duplicatedEffects
 * @property {number} rolledBackApplied
 * @property {number} unexpected
 * @property {{ afterFailedAttempt: number, competingConsumers: number, unexplained: number, overlapping: number }} outOfOrder
 *   `overlapping`: applied in order, but while an earlier message of the key was still uncommitted
 * @property {{ entries: number, expected: number, missing: number, unexpected: number, wrong: number,
 *   duplicateCopies: number, reasons: Record<string, number> }} deadLettered
 * @property {{ lost: string[], duplicated: string[], outOfOrder: string[], deadLetter: string[] }} samples
 */

/**
 * @typedef {object} PublicationReport
 * @property {number} published
 * @property {number} notPublished
 * @property {number} outOfOrder
 * @property {number} duplicatePublications
 * @property {number} rolledBackPublished
 */

/**
 * @param {object} d
 * @param {{ name: string, label: string, instances: number, partitions: { count: number } | null }[]} d.groups
 * @param {{ id: string, kind: string, key: string|null, key_seq: number|null, expect: string }[]} d.ledger
 * @param {Set<string>} d.rolledBack
 * @param {{ grp: string, message_id: string, key: string|null, key_seq: number|null, prev_max: number|null,
 *   instance: string, attempt: number, applied_seq: number }[]} d.effects
 * @param {Map<string, Set<string>>} d.failedAttempts group -> ids that had a failed attempt
 * @param {Map<string, DeadLetterEntry[]>} d.deadLetters group -> dead-letter queue contents
 * @param {{ chaosId: string, messageId: string|null, reason: string, name: string }[]} d.rawExpected
 * @param {{ id: string|undefined, key: string|undefined, redelivered: boolean }[]} d.tap publication order seen by the broker
 * @param {{ pending: number, due: number, deadLetters: OutboxDeadLetter[] }} d.outbox
 * @param {{ queue: string, messages: number }[]} d.leftovers
 * @param {import('./children.mjs').Crash[]} d.crashes
 * @param {BoundaryResult[]} d.boundary
 * @param {boolean} [d.strictOrder] fail on documented / design-level reorderings too
 */
export function check(d) {
  /** @type {string[]} */
  const violations = [];
  /** @type {string[]} */
  const findings = [];
  /**
   * @param {string} what
   * @param {readonly string[]} [sample]
   */
  const violation = (what, sample = []) =>
    violations.push(sample.length ? `${what} e.g. ${sample.slice(0, SAMPLE).join(', ')}` : what);

  const ledgerById = new Map(d.ledger.map((r) => [r.id, r]));
  const toApply = d.ledger.filter((r) => r.expect === 'apply');
  const poison = d.ledger.filter((r) => r.expect.startsWith('dlq:'));
  const report = {
    committed: {
      messages: d.ledger.length,
      toApply: toApply.length,
      poison: poison.length,
      rawPoison: d.rawExpected.length,
    },
    rolledBack: d.rolledBack.size,
    /** @type {Record<string, GroupReport>} */
    groups: {},
    /** @type {PublicationReport} filled in once the tap is read, below */
    publication: { published: 0, notPublished: 0, outOfOrder: 0, duplicatePublications: 0, rolledBackPublished: 0 },
    outbox: { pending: d.outbox.pending, due: d.outbox.due, deadLetters: d.outbox.deadLetters.length },
    leftovers: d.leftovers.filter((l) => l.messages > 0),
    crashes: d.crashes.length,
    boundary: { cases: d.boundary.length, failed: d.boundary.filter((b) => !b.ok).length },
  };

  // --- per consumer group: exactly once, nothing rolled back or unexpected, per-key order -----
  for (const g of d.groups) {
    const rows = d.effects.filter((e) => e.grp === g.name);
    /** @type {Map<string, typeof rows>} */
    const byId = new Map();
    for (const e of rows) {
      const list = byId.get(e.message_id) ?? [];
      list.push(e);
      byId.set(e.message_id, list);
    }
    const lost = toApply.filter((r) => !byId.has(r.id)).map((r) => r.id);
    const duplicated = [...byId].filter(([, list]) => list.length > 1).map(([id, list]) => `${id} x${list.length}`);
    const rolledBackApplied = [...byId.keys()].filter((id) => d.rolledBack.has(id));
    const unexpected = [...byId.keys()].filter((id) => !d.rolledBack.has(id) && ledgerById.get(id)?.expect !== 'apply');

    // Order: the first application of each keyed message, in application order.
    const failed = d.failedAttempts.get(g.name) ?? new Set();
    const firsts = [...byId.values()]
      .map((list) => list.reduce((a, b) => (Number(a.applied_seq) < Number(b.applied_seq) ? a : b)))
      .filter((e) => e.key !== null && e.key_seq !== null && ledgerById.get(e.message_id)?.expect === 'apply')
      .sort((a, b) => Number(a.applied_seq) - Number(b.applied_seq));
    /** @type {Map<string | null, number>} */
    const maxByKey = new Map();
    /** @type {Record<'afterFailedAttempt' | 'competingConsumers' | 'unexplained' | 'overlapping', string[]>} */
    const order = { afterFailedAttempt: [], competingConsumers: [], unexplained: [], overlapping: [] };
    for (const e of firsts) {
      const before = maxByKey.get(e.key) ?? 0;
      const keySeq = Number(e.key_seq);
      const prevMax = Number(e.prev_max ?? 0);
      const late = before > keySeq || prevMax > keySeq;
      if (late) {
        const sample = `${e.key}#${keySeq} after #${Math.max(before, prevMax)} (${e.instance}, attempt ${e.attempt})`;
        if (e.attempt > 1 || failed.has(e.message_id)) order.afterFailedAttempt.push(sample);
        else if (g.instances > 1) order.competingConsumers.push(sample);
        else order.unexplained.push(sample);
      } else if (prevMax < before) {
        // In order, yet its effect row did not see the key's latest earlier one, inserted before
        // it (applied_seq) and committed: that transaction was still open when this handler ran —
        // two messages of one key in flight at once.
        order.overlapping.push(`${e.key}#${keySeq} while #${before} was uncommitted (${e.instance}, saw #${prevMax})`);
      }
      if (keySeq > before) maxByKey.set(e.key, keySeq);
    }

    // Dead-letter queue: every poison message, with its reason and history; nothing else.
    const entries = d.deadLetters.get(g.name) ?? [];
    /** @type {Map<string, { reason: string, what: string }>} */
    const expected = new Map();
    for (const r of poison) expected.set(r.id, { reason: r.expect.slice(4), what: r.kind });
    for (const r of d.rawExpected) expected.set(r.chaosId, { reason: r.reason, what: `raw: ${r.name}` });
    /** @type {Map<string, number>} */
    const seen = new Map();
    /** @type {string[]} */
    const wrong = [];
    /** @type {string[]} */
    const unexpectedDlq = [];
    for (const m of entries) {
      const ident = m.chaosId && expected.has(m.chaosId) ? m.chaosId : m.messageId;
      const exp = ident ? expected.get(ident) : undefined;
      if (!ident || !exp) {
        unexpectedDlq.push(`${m.messageId ?? m.chaosId ?? '?'} (${m.type}, ${m.reason}: ${m.error})`);
        continue;
      }
      seen.set(ident, (seen.get(ident) ?? 0) + 1);
      const history = Array.isArray(m.history) ? m.history : [];
      const last = history[history.length - 1];
      if (m.reason !== exp.reason) wrong.push(`${exp.what} ${ident}: reason "${m.reason}", expected "${exp.reason}"`);
      else if (history.length === 0) wrong.push(`${exp.what} ${ident}: no attempt history`);
      else if (exp.reason === 'retries exhausted' && last?.attempt !== MAX_ATTEMPTS)
        wrong.push(`${exp.what} ${ident}: last attempt ${last?.attempt}, expected ${MAX_ATTEMPTS}`);
      else if (m.group !== g.name) wrong.push(`${exp.what} ${ident}: x-txbox-group "${m.group}"`);
    }
    const missingDlq = [...expected].filter(([id]) => !seen.has(id)).map(([id, e]) => `${id} (${e.what})`);
    const dlqDuplicates = [...seen.values()].reduce((n, c) => n + c - 1, 0);
    /** @type {Record<string, number>} */
    const reasons = {};
    for (const m of entries) reasons[String(m.reason)] = (reasons[String(m.reason)] ?? 0) + 1;

    report.groups[g.label] = {
      group: g.name,
      instances: g.instances,
      partitions: g.partitions?.count ?? null,
      applied: byId.size,
      effectRows: rows.length,
      lost: lost.length,
      duplicatedEffects: duplicated.length,
      rolledBackApplied: rolledBackApplied.length,
      unexpected: unexpected.length,
      outOfOrder: {
        afterFailedAttempt: order.afterFailedAttempt.length,
        competingConsumers: order.competingConsumers.length,
        unexplained: order.unexplained.length,
        overlapping: order.overlapping.length,
      },
      deadLettered: {
        entries: entries.length,
        expected: expected.size,
        missing: missingDlq.length,
        unexpected: unexpectedDlq.length,
        wrong: wrong.length,
        duplicateCopies: dlqDuplicates,
        reasons,
      },
      samples: {
        lost: lost.slice(0, SAMPLE),
        duplicated: duplicated.slice(0, SAMPLE),
        outOfOrder: [
          ...order.unexplained,
          ...order.competingConsumers,
          ...order.overlapping,
          ...order.afterFailedAttempt,
        ].slice(0, SAMPLE),
        deadLetter: [...missingDlq, ...unexpectedDlq, ...wrong].slice(0, SAMPLE),
      },
    };
    const G = `group ${g.label} (${g.name})`;
    if (lost.length) violation(`${G}: ${lost.length} committed messages never applied`, lost);
    if (duplicated.length) violation(`${G}: ${duplicated.length} messages applied more than once`, duplicated);
    if (rolledBackApplied.length)
      violation(`${G}: ${rolledBackApplied.length} rolled-back messages applied`, rolledBackApplied);
    if (unexpected.length) violation(`${G}: ${unexpected.length} unexpected effects`, unexpected);
    if (order.unexplained.length)
      violation(`${G}: ${order.unexplained.length} keyed messages applied out of order`, order.unexplained);
    if (order.afterFailedAttempt.length) {
      const text = `${G}: ${order.afterFailedAttempt.length} keyed messages applied after a later one of their key because their first attempt failed (a fault hit the handler's transaction; documented: retries go through delay queues)`;
      if (d.strictOrder) violation(text, order.afterFailedAttempt);
      else findings.push(`${text} e.g. ${order.afterFailedAttempt.slice(0, 3).join(', ')}`);
    }
    // A partitioned group promises per-key order across its instances: a reordering no failed
    // attempt explains breaks it, and so does a key in flight twice at once. With competing
    // consumers both are what the design allows (reported); in one instance, a bug.
    const promisesOrder = g.partitions !== null || g.instances === 1;
    if (order.competingConsumers.length) {
      if (g.partitions) {
        violation(
          `${G}: ${order.competingConsumers.length} keyed messages applied after a later one of their key with ${g.instances} instances sharing ${g.partitions.count} partitions (must be 0: each partition has one consumer at a time)`,
          order.competingConsumers,
        );
      } else {
        const text = `${G}: ${order.competingConsumers.length} keyed messages applied after a later one of their key with ${g.instances} competing instances (per-key order holds within one instance only)`;
        if (d.strictOrder) violation(text, order.competingConsumers);
        else findings.push(`${text} e.g. ${order.competingConsumers.slice(0, 3).join(', ')}`);
      }
    }
    if (order.overlapping.length) {
      const text = `${G}: ${order.overlapping.length} keyed messages handled while an earlier message of their key was still in flight`;
      if (promisesOrder || d.strictOrder) violation(text, order.overlapping);
      else findings.push(`${text} (competing instances) e.g. ${order.overlapping.slice(0, 3).join(', ')}`);
    }
    if (missingDlq.length)
      violation(`${G}: ${missingDlq.length} poison messages missing from the dead-letter queue`, missingDlq);
    if (unexpectedDlq.length)
      violation(`${G}: ${unexpectedDlq.length} unexpected messages in the dead-letter queue`, unexpectedDlq);
    if (wrong.length) violation(`${G}: ${wrong.length} dead letters without the expected reason or history`, wrong);
    if (dlqDuplicates)
      findings.push(
        `${G}: ${dlqDuplicates} extra dead-letter copies of poison messages (at-least-once: a redelivery after a fault dead-letters again)`,
      );
  }

  // --- publication, seen from the broker (a tap queue bound to everything) ---------------------
  /** @type {Map<string, (typeof d.tap)[number]>} */
  const firstSeen = new Map();
  let duplicatesPublished = 0;
  for (const t of d.tap) {
    if (!t.id) continue;
    if (firstSeen.has(t.id)) {
      if (!t.redelivered) duplicatesPublished += 1;
      continue;
    }
    firstSeen.set(t.id, t);
  }
  const notPublished = d.ledger.filter((r) => !firstSeen.has(r.id)).map((r) => r.id);
  const rolledBackPublished = [...d.rolledBack].filter((id) => firstSeen.has(id));
  /** @type {Map<string, number>} */
  const pubMax = new Map();
  /** @type {string[]} */
  const pubOrder = [];
  for (const id of firstSeen.keys()) {
    const r = ledgerById.get(id);
    if (!r || r.key === null || r.key_seq === null) continue;
    const before = pubMax.get(r.key) ?? 0;
    if (before > r.key_seq) pubOrder.push(`${r.key}#${r.key_seq} after #${before}`);
    else pubMax.set(r.key, r.key_seq);
  }
  report.publication = {
    published: firstSeen.size,
    notPublished: notPublished.length,
    outOfOrder: pubOrder.length,
    duplicatePublications: duplicatesPublished,
    rolledBackPublished: rolledBackPublished.length,
  };
  if (notPublished.length)
    violation(`${notPublished.length} committed messages never reached the broker`, notPublished);
  if (rolledBackPublished.length)
    violation(`${rolledBackPublished.length} rolled-back messages published`, rolledBackPublished);
  if (pubOrder.length) violation(`${pubOrder.length} keyed messages published out of per-key commit order`, pubOrder);
  if (duplicatesPublished)
    findings.push(`${duplicatesPublished} duplicate publications (at-least-once relay; the inbox dropped them)`);

  // --- what is left behind ----------------------------------------------------------------------
  if (d.outbox.pending) violation(`${d.outbox.pending} messages still pending in the outbox (${d.outbox.due} due)`);
  if (d.outbox.deadLetters.length) {
    violation(
      `${d.outbox.deadLetters.length} messages dead-lettered by the relay`,
      d.outbox.deadLetters.map((r) => `${r.id} (${r.reason}: ${r.last_error})`),
    );
  }
  for (const l of report.leftovers) violation(`queue ${l.queue} still holds ${l.messages} messages after settling`);
  for (const c of d.crashes)
    violation(
      `process ${c.role} exited on its own (code ${c.code}, signal ${c.signal}): ${c.stderr.slice(-3).join(' | ')}`,
    );
  for (const b of d.boundary.filter((x) => !x.ok)) {
    violation(
      `boundary [${b.area}] ${b.name}: expected ${b.expect}, got ${typeof b.got === 'string' ? b.got : JSON.stringify(b.got)}`,
    );
  }
  return { ok: violations.length === 0, violations, findings, report };
}
