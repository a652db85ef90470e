// Checks that PostgreSQL and RabbitMQ answer before anything is built or started, so that a
// missing service fails the demo within seconds with what to do about it. Uses only pg and
// amqplib: it runs before the workspaces are built.
import amqp from 'amqplib';
import pg from 'pg';

const TIMEOUT_MS = 3000;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * Resolves to a list of problems (empty when both services answer), each a message naming the
 * URL tried (password hidden) and how to start the service.
 * @param {{ databaseUrl: string, amqpUrl: string }} urls
 * @returns {Promise<string[]>}
 */
export async function checkServices({ databaseUrl, amqpUrl }) {
  const problems = await Promise.all([checkPostgres(databaseUrl), checkRabbitMq(amqpUrl)]);
  return problems.filter((problem) => problem !== undefined);
}

/** @param {string} url */
async function checkPostgres(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await withTimeout(
      client.connect().then(() => client.query('SELECT 1')),
      TIMEOUT_MS + 500,
    );
    return undefined;
  } catch (error) {
    const reason = describe(error);
    if (isNetworkFailure(error)) {
      return (
        `PostgreSQL is not reachable at ${redact(url)} (${reason}). ` +
        'Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, or set DATABASE_URL.'
      );
    }
    return `PostgreSQL at ${redact(url)} refused the connection (${reason}). Check DATABASE_URL.`;
  } finally {
    client.end().catch(() => {});
  }
}

/** @param {string} url */
async function checkRabbitMq(url) {
  try {
    const connection = await withTimeout(amqp.connect(url, { timeout: TIMEOUT_MS }), TIMEOUT_MS + 500);
    connection.on('error', () => {});
    await connection.close();
    return undefined;
  } catch (error) {
    const reason = describe(error);
    if (/ACCESS[-_]REFUSED/.test(reason)) {
      return `RabbitMQ at ${redact(url)} refused the login (ACCESS_REFUSED). Check the user and password in AMQP_URL.`;
    }
    return (
      `RabbitMQ is not reachable at ${redact(url)} (${reason}). ` +
      'Start it: rabbitmq-server -detached, or set AMQP_URL.'
    );
  }
}

/** @param {any} error */
function isNetworkFailure(error) {
  const codes = [error?.code, ...(error?.errors ?? []).map((/** @type {any} */ inner) => inner?.code)];
  if (codes.some((code) => NETWORK_CODES.has(code))) return true;
  return /timeout|timed out|terminated unexpectedly/i.test(String(error?.message));
}

/**
 * The error's code when it has one (ECONNREFUSED), else its first line, passwords hidden.
 * @param {any} error
 * @returns {string}
 */
export function describe(error) {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (typeof error?.code === 'string' && /^E[A-Z]+$/.test(error.code)) return error.code;
  const text = String(error?.message ?? error).split('\n')[0] || 'unknown error';
  return redact(text.length > 160 ? `${text.slice(0, 157)}...` : text);
}

/**
 * The URL (or any text holding one) with its password replaced by ***.
 * @param {string} text
 */
export function redact(text) {
  return String(text).replace(/(\/\/[^\s:@/]*:)[^\s@/]*@/g, '$1***@');
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @returns {Promise<T>}
 */
function withTimeout(promise, ms) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`timed out after ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
