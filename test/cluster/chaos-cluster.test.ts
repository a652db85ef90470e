// The chaos suite's cluster profile, part of the cluster suite (scripts/ci-cluster.sh starts the
// cluster): the same workload, faults and checker as `npm run chaos`, on the three-node cluster
// with the groups on quorum queues, every process given the three nodes, and broker nodes
// SIGKILLed and restarted one at a time instead of the single broker's restart. A failure
// reproduces with `node chaos/run.mjs --broker cluster --seed <seed> --duration 40`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clusterUrls } from './cluster-node.js';

const RUN = fileURLToPath(new URL('../../chaos/run.mjs', import.meta.url));
const SEED = Number(process.env.CHAOS_SEED) || 40_404;

describe.skipIf(!clusterUrls())(
  clusterUrls()
    ? 'chaos on the cluster'
    : 'chaos on the cluster (skipped: TXBOX_TEST_CLUSTER_URLS is unset; run scripts/ci-cluster.sh)',
  () => {
    it(`keeps every guarantee while broker nodes are SIGKILLed (seed ${SEED}, 40 s)`, async () => {
      const child = spawn(
        process.execPath,
        [RUN, '--broker', 'cluster', '--seed', String(SEED), '--duration', '40', '--settle-timeout', '150'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const output: string[] = [];
      child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
      child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      const text = output.join('');
      expect(text, text.slice(-6000)).toMatch(/node-kill=[1-9]/);
      expect(code, text.slice(-6000)).toBe(0);
    }, 420_000);
  },
);
