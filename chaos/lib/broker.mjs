// @ts-check
// RabbitMQ application control for the one broker restart of a run. Whatever happens, the
// run must leave the broker running: ensureBrokerRunning() is called from every exit path.
import { execFile } from 'node:child_process';
import amqp from 'amqplib';

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

/**
 * Fails fast, saying what to do, when the broker does not know an exchange type the run needs (a
 * plugin's, like group A's x-consistent-hash). RabbitMQ refuses an unknown type with a connection
 * error (503 COMMAND_INVALID: "unknown exchange type" when the plugin was never enabled on the node,
 * "invalid exchange type" when it was and is not now), so the probe has a connection of its own.
 * @param {{ url: string, type: string, plugin: string, exchange: string, why: string }} o
 */
export async function requireExchangeType({ url, type, plugin, exchange, why }) {
  const connection = await amqp.connect(url, { clientProperties: { connection_name: `${exchange} probe` } });
  /** @type {unknown} */
  let refusal;
  connection.on('error', (error) => {
    refusal = error;
  });
  const closed = new Promise((resolve) => connection.once('close', resolve));
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    await channel.assertExchange(exchange, type, { durable: false, autoDelete: true });
    await channel.deleteExchange(exchange);
  } catch (error) {
    // The channel only hears "Channel ended, no reply will be forthcoming"; the broker's reason
    // comes with the connection's error, just before it closes.
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    const said = refusal ? errorMessage(refusal) : errorMessage(error);
    if (/(unknown|invalid) exchange type/i.test(said)) {
      throw new Error(
        `RabbitMQ does not know the exchange type ${type} (needed: ${why}): enable the plugin on the broker ` +
          `(rabbitmq-plugins enable ${plugin}) and run again. Broker said: ${said}`,
      );
    }
    throw error;
  } finally {
    await connection.close().catch(() => {});
  }
}

/** @param {unknown} error */
function errorMessage(error) {
  return error instanceof Error ? error.message : String(error);
}
