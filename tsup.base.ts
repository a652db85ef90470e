import { defineConfig, type Options } from 'tsup';

/** The build every @txbox package shares: ESM + CommonJS + types for Node 20. */
export function libraryBuild(entry: string[]): ReturnType<typeof defineConfig> {
  const options: Options = {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    // p-retry is ESM-only; bundling it keeps the CommonJS build loadable on every Node 20.
    noExternal: ['p-retry', 'is-network-error'],
  };
  return defineConfig(options);
}
