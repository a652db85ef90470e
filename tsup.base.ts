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
  };
  return defineConfig(options);
}
