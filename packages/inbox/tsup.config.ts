import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/cli/main.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // p-retry is ESM-only; bundling it keeps the CommonJS build loadable on every Node 20.
  noExternal: ['p-retry', 'is-network-error'],
});
