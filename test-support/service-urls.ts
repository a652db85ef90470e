import { inject } from 'vitest';
import './provided-context.js';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

function provided(key: 'txboxDatabaseUrl' | 'txboxAmqpUrl'): string | undefined {
  try {
    return inject(key) || undefined;
  } catch {
    // Outside a Vitest worker (or in the unit project, which has no globalSetup) nothing is provided.
    return undefined;
  }
}

/** PostgreSQL URL for integration tests: what globalSetup resolved, else TXBOX_TEST_DATABASE_URL, else the local default. */
export function testDatabaseUrl(): string {
  return provided('txboxDatabaseUrl') ?? (process.env.TXBOX_TEST_DATABASE_URL || DEFAULT_DATABASE_URL);
}

/** RabbitMQ URL for integration tests: what globalSetup resolved, else TXBOX_TEST_AMQP_URL, else the local default. */
export function testAmqpUrl(): string {
  return provided('txboxAmqpUrl') ?? (process.env.TXBOX_TEST_AMQP_URL || DEFAULT_AMQP_URL);
}

/** The URL with its password removed, safe to print in a failure message. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}
