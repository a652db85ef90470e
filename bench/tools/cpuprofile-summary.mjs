#!/usr/bin/env node
// @ts-check
// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by package.
//   node bench/tools/cpuprofile-summary.mjs <file.cpuprofile> [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
if (positionals.length === 0) {
  console.error('usage: cpuprofile-summary.mjs <file.cpuprofile> [--top N]');
  process.exit(2);
}
/**
 * The parts of a V8 .cpuprofile read here.
 * @typedef {{ id: number, callFrame: { functionName: string, url: string, lineNumber: number } }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[] }} CpuProfile
 */
/** @type {CpuProfile} */
const profile = JSON.parse(readFileSync(String(positionals[0]), 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
/** @type {Map<number, number>} */
const selfUs = new Map();
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = /** @type {number} */ (profile.samples[i]);
  selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** @param {string} url */
function packageOf(url) {
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    const [scopeOrName = '', name = ''] = rest;
    return scopeOrName.startsWith('@') ? `${scopeOrName}/${name}` : scopeOrName;
  }
  const pkg = url.match(/packages\/([^/]+)\//);
  if (pkg) return `@txbox/${pkg[1]}`;
  if (url.includes('/bench/')) return 'bench';
  return url;
}

/** @type {Map<string, number>} */
const byFunction = new Map();
/** @type {Map<string, number>} */
const byPackage = new Map();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (!node) continue; // every sample names a node of the profile
  const { callFrame } = node;
  const name = callFrame.functionName || '(anonymous)';
  const where = callFrame.url
    ? `${callFrame.url.replace(/^.*\/(node_modules|packages|bench)\//, '$1/')}:${callFrame.lineNumber + 1}`
    : '';
  const key = `${name} ${where}`.trim();
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const pkg = ['(idle)', '(garbage collector)', '(program)'].includes(name) ? name : packageOf(callFrame.url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
}
const fmt = (/** @type {number} */ us) =>
  `${(us / 1000).toFixed(0).padStart(7)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%`;
const top = Number(values.top);
console.log(`total sampled: ${(total / 1000).toFixed(0)} ms`);
console.log('\nself time by package:');
for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${fmt(v)}  ${k}`);
console.log(`\ntop ${top} functions by self time:`);
for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${fmt(v)}  ${k}`);
