// `txbox outbox dead-letters list|show|requeue|purge`: the outbox messages the relay gave up on,
// through OutboxAdmin (the same selection rules as the Nest admin service and a dashboard).
import { createOutboxAdmin, type DeadLetter, type OutboxAdmin } from '@txbox/outbox';
import {
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  databaseUrl,
  integer,
  onePositional,
  parseCommand,
  SELECTION_HELP,
  SELECTION_OPTIONS,
  selection,
} from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { EXIT_CODES, type ExitCode, UsageError } from '../cli/exit-codes.js';
import { type CliIo, print, printFound, table } from '../cli/io.js';

const OPTIONS = { ...CONNECTION_OPTIONS, ...SELECTION_OPTIONS, offset: { type: 'string' } } as const;
type Values = ReturnType<typeof parseCommand<typeof OPTIONS>>['values'];

async function withAdmin(
  argv: string[],
  io: CliIo,
  fn: (admin: OutboxAdmin, values: Values, positionals: string[]) => Promise<ExitCode>,
): Promise<ExitCode> {
  const { values, positionals } = parseCommand(argv, OPTIONS);
  const admin = createOutboxAdmin({ database: databaseUrl(values, io), schema: values.schema });
  try {
    return await fn(admin, values, positionals);
  } finally {
    await admin.close();
  }
}

/** Requeue and purge act on the whole selection: an "at most n" would be a surprise there. */
function noLimit(values: Values): void {
  if (values.limit !== undefined || values.offset !== undefined) {
    throw new UsageError(
      '--limit and --offset apply to list only; select with --id, --type, --key, --since, --until or --all',
    );
  }
}

function rows(letters: DeadLetter[]): string[] {
  if (letters.length === 0) return ['no dead letters'];
  return table([
    ['ID', 'TYPE', 'KEY', 'DEAD-LETTERED', 'REASON', 'LAST ERROR'],
    ...letters.map((d) => [
      d.id,
      `${d.type} v${d.version}`,
      d.orderingKey ?? '-',
      d.deadLetteredAt.toISOString(),
      d.reason,
      (d.lastError ?? '').slice(0, 80),
    ]),
  ]);
}

const help = (usage: string, what: string) => `Usage: txbox outbox dead-letters ${usage}

${what}

${SELECTION_HELP}

${CONNECTION_HELP}`;

export const outboxDeadLettersList: Command = {
  path: ['outbox', 'dead-letters', 'list'],
  summary: 'List outbox dead letters (filters: --id, --type, --key, --since, --until)',
  help: help('list [selection] [--offset <n>] [options]', 'Lists dead letters, oldest first (default --limit 100).'),
  run: (argv, io) =>
    withAdmin(argv, io, async (admin, values) => {
      const letters = await admin.deadLetters.list({
        ...selection(values),
        limit: integer('limit', values.limit) ?? 100,
        offset: integer('offset', values.offset) ?? 0,
      });
      print(io, values.json, letters, () => rows(letters));
      return EXIT_CODES.ok;
    }),
};

export const outboxDeadLettersShow: Command = {
  path: ['outbox', 'dead-letters', 'show'],
  summary: 'Show one outbox dead letter with its payload and attempt history',
  help: help('show <id> [options]', 'Shows one dead letter in full. Exit code 4 when there is none with that id.'),
  run: (argv, io) =>
    withAdmin(argv, io, async (admin, values, positionals) => {
      const found = await admin.deadLetters.show(onePositional(positionals, 'dead letter id'));
      return printFound(io, values.json, found, 'no dead letter with that id');
    }),
};

export const outboxDeadLettersRequeue: Command = {
  path: ['outbox', 'dead-letters', 'requeue'],
  summary: 'Put outbox dead letters back in the outbox, same ids, due now',
  help: help(
    'requeue <selection> [options]',
    'Moves the selected dead letters back into the outbox with their ids, due now; the relay publishes them again.',
  ),
  run: (argv, io) =>
    withAdmin(argv, io, async (admin, values) => {
      noLimit(values);
      const ids = await admin.deadLetters.requeue(selection(values));
      print(io, values.json, { requeued: ids }, () => [`requeued ${ids.length}`, ...ids]);
      return EXIT_CODES.ok;
    }),
};

export const outboxDeadLettersPurge: Command = {
  path: ['outbox', 'dead-letters', 'purge'],
  summary: 'Delete outbox dead letters',
  help: help('purge <selection> [options]', 'Deletes the selected dead letters for good.'),
  run: (argv, io) =>
    withAdmin(argv, io, async (admin, values) => {
      noLimit(values);
      const purged = await admin.deadLetters.purge(selection(values));
      print(io, values.json, { purged }, () => [`purged ${purged}`]);
      return EXIT_CODES.ok;
    }),
};
