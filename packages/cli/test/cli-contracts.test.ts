// `txbox contracts snapshot|check` spawned as the real binary on contract modules written to a
// temporary directory: the exit codes a CI step branches on, and the names in the output.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { txbox } from './run-txbox.js';

const require = createRequire(import.meta.url);
const core = pathToFileURL(require.resolve('@txbox/core')).href.replace(/index\.cjs$/, 'index.js');
const zod = pathToFileURL(require.resolve('zod')).href.replace(/index\.cjs$/, 'index.js');
let dir: string;

/** Writes a module exporting OrderPlaced v1 with `fields` (zod source), plus `extra` source. */
async function contracts(name: string, fields: string, extra = ''): Promise<string> {
  const file = join(dir, `${name}.mjs`);
  await writeFile(
    file,
    `import { defineMessage } from ${JSON.stringify(core)};
import { z } from ${JSON.stringify(zod)};
export const OrderPlacedV1 = defineMessage({ type: 'orders.order-placed', version: 1, schema: z.object({ ${fields} }) });
${extra}`,
  );
  return `./${name}.mjs`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'txbox-contracts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[]) => txbox(['contracts', ...args, '--file', join(dir, 'snapshot.json')]);

describe('txbox contracts', () => {
  it('check without a snapshot exits 4; snapshot writes one; check then passes', async () => {
    const v1 = await contracts('v1', "orderId: z.string(), status: z.enum(['placed', 'paid'])");
    expect((await run(['check', '--module', join(dir, v1)])).code).toBe(4);
    const snapshot = await run(['snapshot', '--module', join(dir, v1)]);
    expect(snapshot.code).toBe(0);
    expect(snapshot.stdout).toContain('wrote 1 contract versions');
    const written = JSON.parse(await readFile(join(dir, 'snapshot.json'), 'utf8'));
    expect(written.contracts['orders.order-placed']['1'].schema.required).toEqual(['orderId', 'status']);
    expect((await run(['check', '--module', join(dir, v1)])).code).toBe(0);
  });

  it('a breaking change exits 5 and names the contract, version and field; snapshot refuses it without --force', async () => {
    const broken = await contracts('broken', "orderId: z.string(), status: z.enum(['placed'])");
    const check = await run(['check', '--module', join(dir, broken)]);
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/BREAKING orders\.order-placed v1: field "status": value "paid" removed/);
    const json = await run(['check', '--json', '--module', join(dir, broken)]);
    expect(json.json()).toMatchObject({
      breaking: [{ type: 'orders.order-placed', version: 1, field: 'status', kind: 'enum-value-removed' }],
    });
    expect((await run(['snapshot', '--module', join(dir, broken)])).code).toBe(5);
  });

  it('compatible changes pass: an optional field, an enum value, a new version with an upcaster', async () => {
    const grown = await contracts(
      'grown',
      "orderId: z.string(), status: z.enum(['placed', 'paid', 'shipped']), note: z.string().optional()",
      `export const OrderPlaced = defineMessage({ type: 'orders.order-placed', version: 2,
  schema: z.object({ id: z.string() }),
  upcast: { from: OrderPlacedV1, transform: (v1) => ({ id: v1.orderId }) } });`,
    );
    const check = await run(['check', '--module', join(dir, grown)]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('field "note": optional field added (compatible)');
    expect(check.stdout).toContain('orders.order-placed v2 is new');
  });

  it('a module without contracts, or no --module, is a usage error', async () => {
    const empty = join(dir, 'empty.mjs');
    await writeFile(empty, 'export const nothing = 1;\n');
    expect((await run(['check', '--module', empty])).code).toBe(2);
    expect((await run(['check'])).code).toBe(2);
  });
});
