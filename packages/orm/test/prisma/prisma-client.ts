// Generates the test schema's Prisma client once per run and loads it. `prisma generate` needs no
// engine, but Prisma's CLI fetches the schema-engine binary before any command unless one is
// configured: PRISMA_SCHEMA_ENGINE_BINARY points it at a file that exists (generate never runs it),
// so this works on machines without access to Prisma's binary host.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');
const output = join(root, 'node_modules/.txbox-prisma-test');

export interface TestPrismaClient {
  $transaction<T>(fn: (tx: TestPrismaTransaction) => Promise<T>, options?: object): Promise<T>;
  $disconnect(): Promise<void>;
}

export interface TestPrismaTransaction {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  effect: { create(args: { data: { message_id: string; info?: string } }): Promise<unknown> };
}

export async function loadPrismaClient(): Promise<new (options: { adapter: unknown }) => TestPrismaClient> {
  execFileSync(join(root, 'node_modules/.bin/prisma'), ['generate', '--schema', join(here, 'schema.prisma')], {
    cwd: here,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: 'pipe',
  });
  if (!existsSync(join(output, 'client.ts'))) throw new Error(`prisma generate wrote no client to ${output}`);
  const module = (await import(pathToFileURL(join(output, 'client.ts')).href)) as {
    PrismaClient: new (options: { adapter: unknown }) => TestPrismaClient;
  };
  return module.PrismaClient;
}
