import { fileURLToPath } from 'node:url';
import { groupTopology } from '@txbox/inbox';
import { afterAll, describe, expect, it } from 'vitest';
import {
  deleteTopology,
  runChild,
  testAmqpUrl,
  uniqueName,
  useAmqp,
  useTestSchema,
} from '../../../../test-support/index.js';

const { schema, databaseUrl } = useTestSchema('nest_sigterm');
const amqp = useAmqp();
const exchange = uniqueName('nest_sigterm_events');
const groups: string[] = [];
const WORKER = fileURLToPath(new URL('./shutdown-worker.cjs', import.meta.url));

afterAll(async () => {
  for (const group of groups) {
    await deleteTopology(
      amqp.channel,
      groupTopology({ group, exchange, retryDelaysMs: [], bindings: [], queueType: 'classic' }),
    );
  }
});

function startWorker(env: Record<string, string>) {
  const group = uniqueName('nest_sigterm');
  groups.push(group);
  return runChild(WORKER, [], {
    GROUP: group,
    AMQP_URL: testAmqpUrl(),
    DATABASE_URL: databaseUrl,
    SCHEMA: schema,
    EXCHANGE: exchange,
    NODE_OPTIONS: '--no-warnings',
    ...env,
  });
}

async function stopWithSigterm(shutdown: 'hooks' | 'exit-0') {
  const child = startWorker({ SHUTDOWN: shutdown });
  await child.waitReady();
  child.child.kill('SIGTERM');
  const exit = await child.closed;
  return { exit, log: [...child.stdout, ...child.stderr].join('\n') };
}

describe('SIGTERM in a CommonJS Nest application', () => {
  it('with app.enableShutdownHooks() txbox drains, then Nest re-raises the signal: the process ends by SIGTERM (status 143)', async () => {
    const { exit, log } = await stopWithSigterm('hooks');
    // A shell, Docker and Kubernetes report a process ended by SIGTERM as exit code 128 + 15 = 143.
    expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(log).toMatch(/Inbox consumer stopped[\s\S]*Outbox relay stopped/);
  });

  it('with its own handler (await app.close(), then process.exit(0)) the status is 0, after the same drain', async () => {
    const { exit, log } = await stopWithSigterm('exit-0');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(log).toMatch(/Inbox consumer stopped[\s\S]*Outbox relay stopped/);
  });
});

describe('a CommonJS Nest application started with NODE_ENV=production and migrations pending', () => {
  it('exits 1 with one message saying production mode turned auto-migration off, and no stack trace', async () => {
    const child = startWorker({ NODE_ENV: 'production', SCHEMA: uniqueName('nest_prod_unmigrated') });
    const exit = await child.closed;
    const log = [...child.stdout, ...child.stderr].join('\n');
    expect(exit).toEqual({ code: 1, signal: null });
    expect(log).toMatch(/txbox migrations are pending .*NODE_ENV is "production"/);
    expect(log).not.toMatch(/^\s+at /m);
    expect(log).not.toContain('Unhandled');
  });
});
