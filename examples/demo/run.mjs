#!/usr/bin/env node
// npm run demo — the txbox saga demo, end to end, in one command:
//
//   1. checks that PostgreSQL and RabbitMQ answer (3 s each), before anything else;
//   2. builds the workspaces (turbo; skipped with --no-build);
//   3. creates and migrates one database per service, starts orders (NestJS + TypeORM) and
//      billing (plain pg + amqplib) as child processes, places orders (some declined, some
//      written as OrderPlaced v1), SIGKILLs billing mid-run and restarts it, replays every
//      published message once more, and prints the summary;
//   4. exits 0 only if the numbers show exactly-once effects.
//
//   DATABASE_URL  a PostgreSQL server and a database to connect to for creating the demo's
//                 databases (default postgres://postgres@127.0.0.1:5432/postgres)
//   AMQP_URL      RabbitMQ (default amqp://guest:guest@127.0.0.1:5672)
//   DEMO_VERBOSE=1  stream the services' output; DEMO_KEEP=1  keep the demo's queues afterwards
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkServices, describe, redact } from './preflight.mjs';

const TIME_LIMIT_MS = 150_000;
const root = fileURLToPath(new URL('../..', import.meta.url));
const started = Date.now();
const verbose = process.env.DEMO_VERBOSE === '1';
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';

/** @param {string} line */
function log(line) {
  console.log(`demo: ${line}`);
}

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

if (!/^postgres(ql)?:\/\//.test(databaseUrl))
  fail(`DATABASE_URL must be a postgres:// URL, got ${redact(databaseUrl)}`);
if (!/^amqps?:\/\//.test(amqpUrl)) fail(`AMQP_URL must be an amqp:// URL, got ${redact(amqpUrl)}`);

const problems = await checkServices({ databaseUrl, amqpUrl });
if (problems.length > 0) fail(problems.join('\ndemo: '));
log(`PostgreSQL at ${redact(databaseUrl)} and RabbitMQ at ${redact(amqpUrl)} answer`);

if (!process.argv.includes('--no-build')) {
  const buildStarted = Date.now();
  const build = spawnSync(
    process.execPath,
    [`${root}node_modules/turbo/bin/turbo`, 'run', 'build', '--output-logs=errors-only'],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', FORCE_COLOR: '0' },
      stdio: verbose ? 'inherit' : 'pipe',
    },
  );
  if (build.status !== 0) fail(`the build failed:\n${build.stdout ?? ''}${build.stderr ?? ''}`);
  log(`workspaces built (turbo run build, ${seconds(Date.now() - buildStarted)})`);
}
for (const entry of ['examples/demo/dist/saga.js', 'examples/orders/dist/main.js', 'examples/billing/dist/main.js']) {
  if (!existsSync(`${root}${entry}`)) fail(`${entry} is missing: run npm run build (npm run demo builds first)`);
}

// A last resort: the services stop by themselves when this process goes (their stdin closes).
setTimeout(() => fail(`did not finish within ${TIME_LIMIT_MS / 1000} s`), TIME_LIMIT_MS).unref();
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => fail(`interrupted (${signal})`));

try {
  /** @type {typeof import('./src/saga.js')} */
  const { runSaga } = await import(new URL('./dist/saga.js', import.meta.url).href);
  const ok = await runSaga({ databaseUrl, amqpUrl, verbose, keep: process.env.DEMO_KEEP === '1', log });
  log(`finished in ${seconds(Date.now() - started)}`);
  process.exit(ok ? 0 : 1);
} catch (/** @type {any} */ error) {
  if (error?.name === 'DemoError' && !(verbose && error.cause)) fail(error.message);
  const message = error?.name === 'DemoError' ? error.message : `failed: ${describe(error)}`;
  const detail = verbose ? `\n${(error?.cause ?? error)?.stack ?? ''}` : ' (DEMO_VERBOSE=1 shows the stack trace)';
  fail(`${message}${detail}`);
}

/** @param {number} ms */
function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}
