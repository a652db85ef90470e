import amqp from 'amqplib';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import './provided-context.js';
import { DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL, withoutPassword } from './service-urls.js';

// Global setup of the `integration` project: resolves the PostgreSQL and RabbitMQ URLs (starting
// containers when nothing is configured and a Docker engine is available), checks that both accept
// connections, and hands the URLs to test files through `inject` (see service-urls.ts).

const DOCKER_PROBE_TIMEOUT_MS = 3_000;
const CONNECT_TIMEOUT_MS = 5_000;

type Teardown = () => Promise<void>;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function dockerIsAvailable(): Promise<boolean> {
  if (process.env.TXBOX_TEST_CONTAINERS === '0') return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await withTimeout(getContainerRuntimeClient(), DOCKER_PROBE_TIMEOUT_MS, 'Docker probe');
    return true;
  } catch {
    return false;
  }
}

async function startPostgres(): Promise<{ url: string; stop: Teardown }> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('postgres:16')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' })
    .withExposedPorts(5432)
    // The entrypoint starts the server twice (init, then for real); the second message is the real one.
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .withStartupTimeout(120_000)
    .start();
  return {
    url: `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/test`,
    stop: async () => {
      await container.stop();
    },
  };
}

async function startRabbitMq(): Promise<{ url: string; stop: Teardown }> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('rabbitmq:3-management')
    .withExposedPorts(5672)
    .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
    .withStartupTimeout(120_000)
    .start();
  return {
    url: `amqp://guest:guest@${container.getHost()}:${container.getMappedPort(5672)}`,
    stop: async () => {
      await container.stop();
    },
  };
}

async function checkPostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return [
      `PostgreSQL is not reachable at ${withoutPassword(url)}: ${describe(error)}`,
      '  Start the local server:  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
      `  (the database must exist: createdb -h 127.0.0.1 -U postgres ${databaseName(url)}),`,
      '  or set TXBOX_TEST_DATABASE_URL to a running server.',
    ].join('\n');
  } finally {
    await client.end().catch(() => {});
  }
}

async function checkRabbitMq(url: string): Promise<string | undefined> {
  try {
    const connection = await amqp.connect(url, { timeout: CONNECT_TIMEOUT_MS });
    connection.on('error', () => {});
    await connection.close();
    return undefined;
  } catch (error) {
    return [
      `RabbitMQ is not reachable at ${withoutPassword(url)}: ${describe(error)}`,
      '  Start the local broker:  rabbitmq-server -detached && rabbitmqctl await_startup',
      '  or set TXBOX_TEST_AMQP_URL to a running broker.',
    ].join('\n');
  }
}

function databaseName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres';
  } catch {
    return 'test';
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map((inner) => describe(inner)).join('; ');
  }
  const message = error instanceof Error ? error.message || String((error as { code?: unknown }).code) : String(error);
  // Driver messages can quote the URL; never print a password.
  return message.replace(/\/\/([^:/@\s]+):[^@\s]*@/g, '//$1@');
}

export default async function setup(project: TestProject): Promise<Teardown> {
  const teardowns: Teardown[] = [];
  const teardown: Teardown = async () => {
    await Promise.allSettled(teardowns.map((stop) => stop()));
  };

  let databaseUrl = process.env.TXBOX_TEST_DATABASE_URL || undefined;
  let amqpUrl = process.env.TXBOX_TEST_AMQP_URL || undefined;
  const started: string[] = [];

  if ((databaseUrl === undefined || amqpUrl === undefined) && (await dockerIsAvailable())) {
    try {
      const [postgres, rabbit] = await Promise.all([
        databaseUrl === undefined ? startPostgres() : undefined,
        amqpUrl === undefined ? startRabbitMq() : undefined,
      ]);
      if (postgres) {
        teardowns.push(postgres.stop);
        databaseUrl = postgres.url;
        started.push(`PostgreSQL at ${withoutPassword(postgres.url)}`);
      }
      if (rabbit) {
        teardowns.push(rabbit.stop);
        amqpUrl = rabbit.url;
        started.push(`RabbitMQ at ${withoutPassword(rabbit.url)}`);
      }
    } catch (error) {
      await teardown();
      throw new Error(
        `A Docker engine is reachable, but testcontainers could not start the test services: ${describe(error)}\n` +
          '  Set TXBOX_TEST_CONTAINERS=0 to use the local services, or TXBOX_TEST_DATABASE_URL / TXBOX_TEST_AMQP_URL.',
      );
    }
  }
  if (started.length > 0) console.log(`[txbox] testcontainers started ${started.join(' and ')}`);

  databaseUrl ??= DEFAULT_DATABASE_URL;
  amqpUrl ??= DEFAULT_AMQP_URL;

  const problems = (await Promise.all([checkPostgres(databaseUrl), checkRabbitMq(amqpUrl)])).filter(
    (problem): problem is string => problem !== undefined,
  );
  if (problems.length > 0) {
    await teardown();
    throw new Error(
      `Integration tests need PostgreSQL and RabbitMQ.\n${problems.join('\n')}\n` +
        'Only the unit tests run without them: npm run test:unit',
    );
  }

  project.provide('txboxDatabaseUrl', databaseUrl);
  project.provide('txboxAmqpUrl', amqpUrl);
  return teardown;
}
