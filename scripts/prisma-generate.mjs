// @ts-check
// `prisma generate` for the README check and the Prisma adapter tests. Generating a client needs
// no engine binary, but Prisma's CLI downloads the schema-engine binary before running any
// command unless one is configured: PRISMA_SCHEMA_ENGINE_BINARY names a file that exists (generate
// never runs it), so this works on machines that cannot reach Prisma's binary host.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Generates the client of `schemaPath` (to the `output` its generator block names).
 * @param {string} schemaPath
 * @param {string} [prismaBin] the Prisma CLI to run (the compatibility matrix's scratch apps use their own)
 * @returns {{ ok: boolean, output: string }}
 */
export function prismaGenerate(schemaPath, prismaBin = join(root, 'node_modules/.bin/prisma')) {
  const result = spawnSync(prismaBin, ['generate', '--schema', schemaPath], {
    cwd: dirname(schemaPath),
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
  return {
    ok: result.status === 0,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`,
  };
}
