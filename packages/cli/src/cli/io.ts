// Where a command writes, and the two shapes it writes in: text for a person, JSON (`--json`) for a
// script. Every line goes through redactUrl, so a password in a URL (an error quoting the
// connection string, a status line naming the target) never reaches a terminal or a log.
import { redactUrl } from '@txbox/core';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Free text made safe to print: every URL-looking password replaced. */
export function safe(text: string): string {
  return redactUrl(text);
}

/** Prints a command's result: `json` as one JSON document, otherwise the text lines. */
export function print(io: CliIo, json: boolean, value: unknown, lines: () => string[]): void {
  if (json) io.stdout(`${safe(JSON.stringify(value, null, 2))}\n`);
  else {
    const text = lines().join('\n');
    if (text) io.stdout(`${safe(text)}\n`);
  }
}

/** Prints an error: `{ "error": { code, message } }` on stderr with `--json`, a line otherwise. */
export function printError(io: CliIo, json: boolean, error: unknown): void {
  const message = safe(error instanceof Error ? error.message : String(error));
  const code = (error as { code?: unknown })?.code;
  if (json) io.stderr(`${JSON.stringify({ error: { code: typeof code === 'string' ? code : 'FAILED', message } })}\n`);
  else io.stderr(`txbox: ${message}\n`);
}

/** Pads columns for a small table of text rows. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** Prints one found item in full, or says it is not there; returns the exit code (4 when missing). */
export function printFound(io: CliIo, json: boolean, found: unknown, missing: string): 0 | 4 {
  if (found === undefined) {
    print(io, json, null, () => [missing]);
    return 4;
  }
  print(io, json, found, () => [JSON.stringify(found, null, 2)]);
  return 0;
}
