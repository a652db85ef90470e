import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { closedPort, testAmqpUrl, testDatabaseUrl } from '../../test-support/index.js';

// `npm run demo` is `node examples/demo/run.mjs`; `npm test` has built the workspaces already,
// so the demo runs with --no-build (a second turbo run could rewrite dist/ under other tests).
const RUN = fileURLToPath(new URL('./run.mjs', import.meta.url));

interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

function runDemo(env: Record<string, string>, timeoutMs: number): Promise<DemoRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [RUN, '--no-build'], {
    env: { ...process.env, DEMO_VERBOSE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // SIGTERM lets the demo stop its services; it must never get this far.
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}

/** The value column of a summary row. */
function summaryValue(stdout: string, label: string): string | undefined {
  const row = stdout.split('\n').find((line) => line.trimStart().startsWith(label));
  return row
    ?.slice(row.indexOf(label) + label.length)
    .trim()
    .split(/\s{2,}/)[0];
}

describe('npm run demo', () => {
  it('runs the saga through a consumer SIGKILL and a burst of duplicates, and exits 0 on exactly-once numbers', async () => {
    const run = await runDemo({ DATABASE_URL: testDatabaseUrl(), AMQP_URL: testAmqpUrl() }, 140_000);
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.code, output).toBe(0);
    expect(run.stdout).toContain('billing SIGKILLed mid-run');
    expect(run.stdout).toContain('billing restarted');
    expect(run.stdout).toContain('demo: OK: exactly once.');
    expect(run.stdout, output).not.toContain('✗');
    expect(summaryValue(run.stdout, 'orders placed (POST /orders → 201)')).toBe('60');
    expect(summaryValue(run.stdout, 'confirmed (PaymentSucceeded)')).toBe('48');
    expect(summaryValue(run.stdout, 'cancelled (PaymentFailed → compensation)')).toBe('12');
    expect(summaryValue(run.stdout, 'duplicates replayed by the demo')).toBe('120');
    expect(Number(summaryValue(run.stdout, 'duplicates skipped by billing'))).toBeGreaterThanOrEqual(60);
    expect(Number(summaryValue(run.stdout, 'duplicates skipped by orders'))).toBeGreaterThanOrEqual(60);
    expect(summaryValue(run.stdout, 'handler effects: payments (billing)')).toBe('60');
    expect(summaryValue(run.stdout, 'handler effects: order_history (orders)')).toBe('60');
    expect(summaryValue(run.stdout, 'effects changed by the replay')).toBe('0');
  }, 150_000);

  it('with RabbitMQ unreachable, fails within seconds naming the URL and how to start it, without a stack trace', async () => {
    const port = await closedPort();
    const run = await runDemo(
      { DATABASE_URL: testDatabaseUrl(), AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}` },
      10_000,
    );
    expect(run.code).toBe(1);
    expect(run.elapsedMs).toBeLessThan(10_000);
    expect(run.stderr).toContain(
      `demo: RabbitMQ is not reachable at amqp://guest:***@127.0.0.1:${port} (ECONNREFUSED). Start it: rabbitmq-server -detached`,
    );
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(`${run.stdout}${run.stderr}`).not.toContain('guest:guest');
  }, 15_000);

  it('with PostgreSQL unreachable, fails within seconds naming the URL and how to start it, without a stack trace', async () => {
    const port = await closedPort();
    const run = await runDemo(
      { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`, AMQP_URL: testAmqpUrl() },
      10_000,
    );
    expect(run.code).toBe(1);
    expect(run.elapsedMs).toBeLessThan(10_000);
    expect(run.stderr).toContain(
      `demo: PostgreSQL is not reachable at postgres://postgres@127.0.0.1:${port}/postgres (ECONNREFUSED)`,
    );
    expect(run.stderr).toContain('pg_ctlcluster');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  }, 15_000);
});
