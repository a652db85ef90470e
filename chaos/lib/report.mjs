// @ts-check
// The checker report, as printed at the end of a run.

/**
 * What a run returns (and writes to report.json): the checker's verdict and report with the run's
 * context, or, when the run aborted, the reason and no report.
 * @typedef {object} ChaosRunResult
 * @property {number} seed
 * @property {boolean} ok
 * @property {string} [aborted] why the run stopped before the checker ran
 * @property {Record<string, number>} faults
 * @property {Record<string, number>} [restarts]
 * @property {Record<string, { steps: number, took: number, gave: number } | undefined>} [rebalances] per group
 *   label: the consumers' partition rebalance steps and the partitions they took and gave
 * @property {boolean} [settled]
 * @property {string[]} [violations]
 * @property {string[]} [findings]
 * @property {ReturnType<typeof import('./checker.mjs').check>['report']} [report]
 * @property {number} [durationMs]
 * @property {Record<string, unknown>} [producers] each producer's DONE statistics
 * @property {import('./checker.mjs').BoundaryResult[]} [boundaryResults]
 * @property {string} runDir
 */

/** @param {ChaosRunResult} r */
export function formatReport(r) {
  /** @type {string[]} */
  const lines = [];
  lines.push('', `=== txbox chaos report — seed ${r.seed} — ${r.ok ? 'PASS' : 'FAIL'} ===`);
  if (r.aborted || !r.report) {
    lines.push(`run aborted: ${r.aborted}`);
  } else {
    const rep = r.report;
    lines.push(
      `workload: ${rep.committed.messages} committed messages (${rep.committed.toApply} to apply, ${rep.committed.poison} poison) + ${rep.committed.rawPoison} raw malformed deliveries; ${rep.rolledBack} rolled-back message ids`,
    );
    lines.push(
      `faults: ${Object.entries(r.faults)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    lines.push(
      `restarts: ${Object.entries(r.restarts ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}; settled: ${r.settled}`,
    );
    const p = rep.publication;
    lines.push(
      `publication (broker side): published ${p.published}, not published ${p.notPublished}, out of key order ${p.outOfOrder}, duplicate publications ${p.duplicatePublications}, rolled back published ${p.rolledBackPublished}`,
    );
    for (const [label, g] of Object.entries(rep.groups)) {
      const shape = g.partitions === null ? '' : `, ${g.partitions} partitions`;
      lines.push(
        `group ${label} (${g.group}, ${g.instances} instance${g.instances > 1 ? 's' : ''}${shape}): applied ${g.applied}, lost ${g.lost}, duplicated effects ${g.duplicatedEffects}, rolled back applied ${g.rolledBackApplied}, unexpected ${g.unexpected}`,
      );
      lines.push(
        `  out of order: unexplained ${g.outOfOrder.unexplained}, competing consumers ${g.outOfOrder.competingConsumers}, after a failed attempt ${g.outOfOrder.afterFailedAttempt}; overlapping in flight ${g.outOfOrder.overlapping}`,
      );
      const rebalanced = r.rebalances?.[label];
      if (g.partitions !== null && rebalanced) {
        lines.push(
          `  rebalancing: ${rebalanced.steps} steps that moved partitions (${rebalanced.took} taken, ${rebalanced.gave} handed over)`,
        );
      }
      const dl = g.deadLettered;
      lines.push(
        `  dead-lettered: ${dl.entries} entries for ${dl.expected} expected (missing ${dl.missing}, unexpected ${dl.unexpected}, wrong reason/history ${dl.wrong}, extra copies ${dl.duplicateCopies}) ${JSON.stringify(dl.reasons)}`,
      );
    }
    lines.push(
      `outbox: pending ${rep.outbox.pending}, due ${rep.outbox.due}, relay dead letters ${rep.outbox.deadLetters}; leftover queue messages ${rep.leftovers.length}`,
    );
    lines.push(`crashes: ${rep.crashes}; boundary cases: ${rep.boundary.cases}, failed ${rep.boundary.failed}`);
  }
  if (r.findings?.length) {
    lines.push('findings (reported, not failing):');
    for (const f of r.findings) lines.push(`  - ${f}`);
  }
  if (r.violations?.length) {
    lines.push(`VIOLATIONS (seed ${r.seed}):`);
    for (const v of r.violations) lines.push(`  - ${v}`);
    lines.push(`reproduce the schedule with: npm run chaos -- --seed ${r.seed}`);
  }
  lines.push(`logs and report.json: ${r.runDir}`);
  return lines.join('\n');
}
