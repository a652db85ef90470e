#!/usr/bin/env node
// @ts-check
// Keeps the README honest, so the docs cannot drift from the code:
//
//  1. Every ```ts block is type-checked against the built packages with the repository's strict
//     settings. A block whose first line is a file name comment (`// contracts.ts`) is written
//     under that name, so later blocks can import it (`./contracts.js`); any other block is a
//     module of its own. Errors are reported at their README line. A block right after a
//     `<!-- check-readme: commonjs -->` line is compiled as a CommonJS module (a plain `tsc` Nest
//     application: no top-level await), together with copies of the named blocks it imports.
//  2. Every table preceded by `<!-- options: InterfaceName -->` lists exactly the properties of
//     that interface in packages/*/src (object-typed properties as `parent.child`), marks the
//     required ones "(required)", and shows the default each property's `@defaultValue` names.
//     A ```prisma block (first line `// schema.prisma`) is written there too and its client
//     generated, so the Prisma quickstart is checked against the client its schema produces.
//  3. The first command block runs only npm scripts that exist, and names both `npm run demo`
//     and `npm test`.
//
// Run after `npm run build` (the blocks import the packages' dist types). Exits 1 on any problem.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { prismaGenerate } from './prisma-generate.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const readmePath = join(root, 'README.md');
const workDir = join(root, '.readme-check');
const keep = process.argv.includes('--keep');
const readme = readFileSync(readmePath, 'utf8');
const lines = readme.split('\n');
/** @type {string[]} */
const problems = [];
let optionTableCount = 0;

const blocks = codeBlocks(lines);
checkCommands(blocks);
checkOptionTables();
checkTypeScriptBlocks(
  blocks.filter((b) => b.lang === 'ts' || b.lang === 'typescript'),
  blocks.filter((b) => b.lang === 'prisma'),
);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`\ncheck-readme: ${problems.length} problem${problems.length === 1 ? '' : 's'} in README.md`);
  process.exit(1);
}
console.log(
  `check-readme: ${blocks.filter((b) => b.lang === 'ts' || b.lang === 'typescript').length} TypeScript blocks compile, ` +
    `${optionTableCount} option tables match the code, the first commands exist`,
);

// ---------------------------------------------------------------------------------------------

/** @typedef {{ lang: string, line: number, body: string[], commonjs: boolean }} CodeBlock */

/**
 * Fenced code blocks with their language and the README line of the opening fence (1-based).
 * @param {readonly string[]} all
 */
function codeBlocks(all) {
  /** @type {CodeBlock[]} */
  const found = [];
  /** @type {CodeBlock | undefined} */
  let open;
  all.forEach((line, index) => {
    if (open) {
      if (/^\s*```\s*$/.test(line)) {
        found.push(open);
        open = undefined;
      } else {
        open.body.push(line);
      }
      return;
    }
    const fence = /^\s*```\s*([\w-]*)/.exec(line);
    if (fence) {
      const commonjs = /<!--\s*check-readme:\s*commonjs\s*-->/.test(all[index - 1] ?? '');
      open = { lang: fence[1] ?? '', line: index + 1, body: [], commonjs };
    }
  });
  return found;
}

/** @param {readonly CodeBlock[]} all */
function checkCommands(all) {
  const first = all.find((b) => b.lang === 'bash' || b.lang === 'sh' || b.lang === 'shell');
  if (!first) {
    problems.push('README.md: no command block (```bash) on the first screen');
    return;
  }
  const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts ?? {};
  const text = first.body.join('\n');
  for (const needed of ['npm run demo', 'npm test']) {
    if (!new RegExp(`${needed}(?![\\w:-])`).test(text))
      problems.push(`README.md:${first.line}: the first command block does not run \`${needed}\``);
  }
  if (/\bnpm ci\b/.test(text)) {
    problems.push(
      `README.md:${first.line}: \`npm ci\` fails where the registry lacks other platforms' optional binaries; use \`npm install\``,
    );
  }
  for (const match of text.matchAll(/\bnpm run ([\w:-]+)/g)) {
    if (!scripts[match[1] ?? ''])
      problems.push(`README.md:${first.line}: \`npm run ${match[1]}\` is not a script in package.json`);
  }
}

// --- option tables ------------------------------------------------------------------------------

function checkOptionTables() {
  const interfaces = collectInterfaces();
  lines.forEach((line, index) => {
    const marker = /<!--\s*options:\s*([\w]+)\s*-->/.exec(line);
    if (!marker) return;
    optionTableCount += 1;
    const name = marker[1] ?? '';
    const where = `README.md:${index + 1}`;
    const declared = interfaces.get(name);
    if (!declared) {
      problems.push(`${where}: no interface ${name} in packages/*/src`);
      return;
    }
    const rows = tableRows(index + 1);
    if (rows.length === 0) {
      problems.push(`${where}: no table follows the <!-- options: ${name} --> marker`);
      return;
    }
    const documented = new Map();
    for (const row of rows) {
      for (const option of backticked(row.cells[0] ?? '').filter((t) => /^[A-Za-z][\w]*(\.[A-Za-z]\w*)?$/.test(t))) {
        documented.set(option, row);
      }
    }
    // A row may document a whole object-typed option instead of each of its properties.
    for (const [option, row] of [...documented]) {
      const children = [...declared.keys()].filter((key) => key.startsWith(`${option}.`));
      if (children.length > 0 && !declared.has(option)) {
        documented.delete(option);
        for (const child of children) if (!documented.has(child)) documented.set(child, row);
      }
    }
    for (const [option, property] of declared) {
      const row = documented.get(option);
      if (!row) {
        problems.push(`${where}: option \`${option}\` of ${name} is missing from the table`);
        continue;
      }
      const defaultCell = row.cells[1] ?? '';
      if (property.required && !/required/.test(defaultCell)) {
        problems.push(
          `README.md:${row.line}: \`${option}\` is required in ${name}; its default cell should say (required)`,
        );
      }
      if (property.defaultLiteral !== undefined && !backticked(defaultCell).includes(property.defaultLiteral)) {
        problems.push(
          `README.md:${row.line}: the default of \`${option}\` is \`${property.defaultLiteral}\` in ${name} (${property.file}), ` +
            `the table says ${JSON.stringify(defaultCell.trim())}`,
        );
      }
    }
    for (const [option, row] of documented) {
      if (!declared.has(option)) problems.push(`README.md:${row.line}: ${name} has no option \`${option}\``);
    }
  });
}

/**
 * The body rows of the Markdown table that starts after `fromIndex` (blank lines allowed before it).
 * @param {number} fromIndex
 */
function tableRows(fromIndex) {
  let i = fromIndex;
  while (i < lines.length && lines[i]?.trim() === '') i += 1;
  /** @type {{ line: number, cells: string[] }[]} */
  const rows = [];
  for (let line = lines[i]; line?.trim().startsWith('|'); i += 1, line = lines[i]) {
    rows.push({ line: i + 1, cells: splitRow(line) });
  }
  // Header and separator.
  return rows.slice(2);
}

/** @param {string} line */
function splitRow(line) {
  // Split on pipes that are not escaped (`\|` appears inside cells).
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

/** @param {string} text */
function backticked(text) {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => (m[1] ?? '').replaceAll('\\|', '|'));
}

/**
 * Interfaces declared in packages/x/src, by name: property name (object-typed properties
 * flattened to `parent.child`) → whether it is required and the literal its @defaultValue gives.
 */
function collectInterfaces() {
  /** @type {Map<string, Map<string, DeclaredOption>>} */
  const result = new Map();
  for (const file of sourceFiles(join(root, 'packages'))) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    source.forEachChild((node) => {
      if (!ts.isInterfaceDeclaration(node)) return;
      /** @type {Map<string, DeclaredOption>} */
      const properties = new Map();
      collectProperties(node.members, '', properties, relative(root, file));
      result.set(node.name.text, properties);
    });
  }
  return result;
}

/** @typedef {{ required: boolean, defaultLiteral: string | undefined, file: string }} DeclaredOption */

/**
 * @param {import('typescript').NodeArray<import('typescript').TypeElement>} members
 * @param {string} prefix
 * @param {Map<string, DeclaredOption>} into
 * @param {string} file
 */
function collectProperties(members, prefix, into, file) {
  for (const member of members) {
    if (!ts.isPropertySignature(member) || !member.name) continue;
    const name = `${prefix}${member.name.getText()}`;
    if (member.type && ts.isTypeLiteralNode(member.type)) {
      collectProperties(member.type.members, `${name}.`, into, file);
      continue;
    }
    const tag = ts.getJSDocTags(member).find((t) => t.tagName.text === 'defaultValue');
    const text = tag ? (ts.getTextOfJSDocComment(tag.comment) ?? '') : '';
    into.set(name, { required: !member.questionToken, defaultLiteral: /^`([^`]+)`/.exec(text.trim())?.[1], file });
  }
}

/**
 * @param {string} dir
 * @returns {string[]}
 */
function sourceFiles(dir) {
  /** @type {string[]} */
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === 'test') continue;
      found.push(...sourceFiles(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && path.includes(`${join('src', '')}`)) {
      found.push(path);
    }
  }
  return found;
}

// --- TypeScript blocks --------------------------------------------------------------------------

/**
 * @param {readonly CodeBlock[]} tsBlocks
 * @param {readonly CodeBlock[]} prismaBlocks
 */
function checkTypeScriptBlocks(tsBlocks, prismaBlocks) {
  rmSync(workDir, { recursive: true, force: true });
  const cjsDir = join(workDir, 'commonjs');
  mkdirSync(cjsDir, { recursive: true });
  // A nearer package.json makes the .ts files under commonjs/ CommonJS modules (NodeNext rules).
  writeFileSync(join(cjsDir, 'package.json'), JSON.stringify({ type: 'commonjs' }));
  for (const block of prismaBlocks) {
    const named = /^\/\/\s*([\w.-]+\.prisma)\s*$/.exec(block.body[0] ?? '');
    if (!named?.[1]) {
      problems.push(`README.md:${block.line}: a prisma block must start with its file name (// schema.prisma)`);
      continue;
    }
    const path = join(workDir, named[1]);
    writeFileSync(path, `${block.body.join('\n')}\n`);
    const generated = prismaGenerate(path);
    if (!generated.ok) problems.push(`README.md:${block.line}: prisma generate failed:\n${generated.output}`);
  }
  /** @type {Map<string, CodeBlock>} */
  const byFile = new Map();
  /** @type {Map<string, CodeBlock>} */
  const cjsByFile = new Map();
  for (const block of tsBlocks) {
    const named = /^\/\/\s*([\w.-]+\.ts)\s*$/.exec(block.body[0] ?? '');
    const file = named?.[1] ?? `block-line-${block.line}.ts`;
    const into = block.commonjs ? cjsByFile : byFile;
    if (into.has(file)) {
      problems.push(
        `README.md:${block.line}: a second block names itself ${file} (first at line ${into.get(file)?.line})`,
      );
      continue;
    }
    into.set(file, block);
    writeFileSync(join(block.commonjs ? cjsDir : workDir, file), `${block.body.join('\n')}\n`);
  }
  // The ES-module blocks a CommonJS block imports (`./contracts.js`) are compiled as CommonJS too.
  const pending = [...cjsByFile.values()];
  for (let block = pending.pop(); block; block = pending.pop()) {
    for (const match of block.body.join('\n').matchAll(/from '\.\/([\w.-]+)\.js'/g)) {
      const file = `${match[1]}.ts`;
      const source = byFile.get(file);
      if (cjsByFile.has(file) || !source) continue;
      cjsByFile.set(file, source);
      writeFileSync(join(cjsDir, file), `${source.body.join('\n')}\n`);
      pending.push(source);
    }
  }
  writeFileSync(
    join(workDir, 'tsconfig.json'),
    JSON.stringify(
      {
        extends: '../tsconfig.base.json',
        compilerOptions: {
          noEmit: true,
          // What a NestJS application compiles with.
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
        },
        include: ['*.ts', 'commonjs/*.ts'],
        // A generated Prisma client is imported by the blocks, not checked as one of them.
        exclude: ['generated'],
      },
      null,
      2,
    ),
  );
  const tsc = spawnSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(workDir, 'tsconfig.json'), '--pretty', 'false'],
    { cwd: root, encoding: 'utf8' },
  );
  try {
    if (tsc.status === 0) return;
    const output = `${tsc.stdout}${tsc.stderr}`.trim();
    let mapped = 0;
    for (const line of output.split('\n')) {
      const m = /^(?:\.readme-check\/)?(commonjs\/)?([\w.-]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line.trim());
      const block = m?.[2] === undefined ? undefined : (m[1] ? cjsByFile : byFile).get(m[2]);
      if (!m || !block) {
        if (line.trim() && !line.startsWith(' ')) problems.push(line);
        continue;
      }
      mapped += 1;
      problems.push(
        `README.md:${block.line + Number(m[3])}:${m[4]}: ${m[5]}  (in the \`\`\`ts block at line ${block.line}, checked as ${m[1] ?? ''}${m[2]})`,
      );
    }
    if (mapped === 0 && output) problems.push(`tsc failed:\n${output}`);
  } finally {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  }
}
