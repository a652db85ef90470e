// @ts-check
// The cluster profile's broker: the local three-node RabbitMQ cluster of
// scripts/rabbitmq-cluster/cluster.sh (nodes txbox-c1..3, AMQP 5681-5683). The run starts it when
// it is not up (and stops it again at the end only then), SIGKILLs and restarts nodes as faults,
// and leaves every node running on every exit path.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../scripts/rabbitmq-cluster/cluster.sh', import.meta.url));
export const CLUSTER_NODES = /** @type {const} */ ([1, 2, 3]);

/**
 * @param {string[]} args
 * @returns {Promise<string>}
 */
function cluster(args, timeoutMs = 240_000) {
  return new Promise((resolve, reject) => {
    execFile(script, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`cluster.sh ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Starts the cluster unless it is up; returns its AMQP URLs and whether this call started it. */
export async function clusterUp() {
  const wasUp = await cluster(['status'], 60_000).then(
    (out) => (out.match(/^txbox-c\d@\S+ up/gm) ?? []).length === 3,
    () => false,
  );
  await cluster(['start']);
  const urls = (await cluster(['urls'], 30_000)).trim().split(',').filter(Boolean);
  if (urls.length !== 3) throw new Error(`cluster.sh urls gave ${urls.length} URLs, expected 3`);
  return { urls, startedByUs: !wasUp };
}

/** @param {1 | 2 | 3} node */
export const killNode = (node) => cluster(['kill-node', String(node)], 60_000);
/** @param {1 | 2 | 3} node */
export const startNode = (node) => cluster(['start-node', String(node)]);
/** Every node running again (idempotent). */
export const ensureClusterUp = () => cluster(['start']);
export const stopCluster = () => cluster(['stop'], 120_000);
