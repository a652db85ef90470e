// @ts-check
// RabbitMQ application control for the one broker restart of a run. Whatever happens, the
// run must leave the broker running: ensureBrokerRunning() is called from every exit path.
import { execFile } from 'node:child_process';

let stoppedByUs = false;

/**
 * @param {readonly string[]} args
 * @returns {Promise<string>} stdout
 */
export function rabbitmqctl(args, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    execFile('rabbitmqctl', args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`rabbitmqctl ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Connection names of established AMQP connections (rabbitmqctl list_connections). */
/** @returns {Promise<string[]>} */
export async function connectionNames() {
  const out = await rabbitmqctl(['list_connections', 'client_properties', '--formatter', 'json', '-q'], 30_000);
  /** @type {{ client_properties?: [string, string, unknown][] }[]} */
  const rows = JSON.parse(out.trim() || '[]');
  return rows.map((row) => {
    const prop = (row.client_properties ?? []).find((p) => p[0] === 'connection_name');
    return prop ? String(prop[2]) : '(unnamed)';
  });
}

/**
 * Waits (bounded) until no connection outside this run is open, so the restart does not break
 * someone else's tests on a shared broker. Returns the foreign connections still open at the end.
 */
/**
 * @param {string} tag connection names of this run contain it
 * @param {number} timeoutMs
 * @param {(line: string) => void} log
 */
export async function waitForQuietBroker(tag, timeoutMs, log) {
  const deadline = Date.now() + timeoutMs;
  /** @type {string[]} */
  let foreign = [];
  for (;;) {
    try {
      foreign = (await connectionNames()).filter((name) => !name.includes(tag));
    } catch (error) {
      log(`could not list connections: ${errorMessage(error)}`);
      return [];
    }
    if (foreign.length === 0 || Date.now() > deadline) return foreign;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function stopBrokerApp() {
  stoppedByUs = true;
  await rabbitmqctl(['stop_app']);
}

export async function startBrokerApp() {
  await rabbitmqctl(['start_app']);
  await rabbitmqctl(['await_startup']);
  stoppedByUs = false;
}

/**
 * start_app (idempotent) when this process stopped the app and has not started it again.
 * @param {(line: string) => void} [log]
 */
export async function ensureBrokerRunning(log = () => {}) {
  if (!stoppedByUs) return;
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      await startBrokerApp();
      log('RabbitMQ application started again (cleanup)');
      return;
    } catch (error) {
      log(`start_app attempt ${attempt} failed: ${errorMessage(error)}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

export const brokerStoppedByUs = () => stoppedByUs;

/** @param {unknown} error */
function errorMessage(error) {
  return error instanceof Error ? error.message : String(error);
}
