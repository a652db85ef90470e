// Generates the test schema's Prisma client (once per test file) and loads it.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { prismaGenerate } from '../../../../scripts/prisma-generate.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const output = join(resolve(here, '../../../..'), 'node_modules/.txbox-prisma-test');

export interface TestPrismaClient {
  $transaction<T>(fn: (tx: TestPrismaTransaction) => Promise<T>, options?: object): Promise<T>;
  $disconnect(): Promise<void>;
}

export interface TestPrismaTransaction {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  effect: { create(args: { data: { message_id: string; info?: string } }): Promise<unknown> };
}

export async function loadPrismaClient(): Promise<new (options: { adapter: unknown }) => TestPrismaClient> {
  const generated = prismaGenerate(join(here, 'schema.prisma'));
  if (!generated.ok || !existsSync(join(output, 'client.ts'))) {
    throw new Error(`prisma generate failed:\n${generated.output}`);
  }
  const module = (await import(pathToFileURL(join(output, 'client.ts')).href)) as {
    PrismaClient: new (options: { adapter: unknown }) => TestPrismaClient;
  };
  return module.PrismaClient;
}
