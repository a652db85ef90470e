// The local three-node cluster of scripts/rabbitmq-cluster/cluster.sh, as the cluster tests see
// it: its URLs (TXBOX_TEST_CLUSTER_URLS, set by scripts/ci-cluster.sh) and the script's node
// commands.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const script = fileURLToPath(new URL('../../scripts/rabbitmq-cluster/cluster.sh', import.meta.url));

/** The cluster's AMQP URLs, or undefined when no cluster was started for this run. */
export function clusterUrls(): string[] | undefined {
  const urls = process.env.TXBOX_TEST_CLUSTER_URLS?.split(',').filter(Boolean);
  return urls && urls.length > 0 ? urls : undefined;
}

/** Runs `cluster.sh <command> <node>`: `kill-node` (SIGKILL) or `start-node` (back and rejoined). */
export async function clusterNode(command: 'kill-node' | 'start-node', node: 1 | 2 | 3): Promise<void> {
  await promisify(execFile)(script, [command, String(node)], { timeout: 180_000 });
}
