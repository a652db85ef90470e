// `txbox inbox dead-letters list|show|replay|purge --group G` and `txbox inbox forget`: one
// consumer group at a time, through InboxAdmin. Replay goes to that group's queue only.
import { createInboxAdmin, type InboxAdmin, type InboxDeadLetter } from '@txbox/inbox';
import {
  amqpUrl,
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

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  ...SELECTION_OPTIONS,
  group: { type: 'string' },
  queue: { type: 'string' },
  'dead-letter-queue': { type: 'string' },
} as const;
type Values = ReturnType<typeof parseCommand<typeof OPTIONS>>['values'];

const GROUP_HELP = `Group:
  --group <group>             Consumer group (required)
  --queue <name>              The group's queue, if the consumer was given another name (default: <group>)
  --dead-letter-queue <name>  Its dead-letter queue (default: <queue>.dead-letter)`;

async function withAdmin(
  argv: string[],
  io: CliIo,
  needs: { amqp: boolean; database: boolean },
  fn: (admin: InboxAdmin, values: Values, positionals: string[]) => Promise<ExitCode>,
): Promise<ExitCode> {
  const { values, positionals } = parseCommand(argv, OPTIONS);
  if (!values.group) throw new UsageError('--group is required');
  const admin = createInboxAdmin({
    schema: values.schema,
    ...(needs.amqp ? { amqp: amqpUrl(values, io) } : {}),
    ...(needs.database ? { database: databaseUrl(values, io) } : {}),
  });
  try {
    return await fn(admin, values, positionals);
  } finally {
    await admin.close();
  }
}

function group(values: Values) {
  const names: Record<string, string> = {};
  if (values.queue) names.queue = values.queue;
  if (values['dead-letter-queue']) names.deadLetterQueue = values['dead-letter-queue'];
  return { group: values.group as string, names };
}

function rows(letters: InboxDeadLetter[]): string[] {
  if (letters.length === 0) return ['no dead letters'];
  return table([
    ['ID', 'TYPE', 'ATTEMPTS', 'DEAD-LETTERED', 'REASON', 'ERROR'],
    ...letters.map((d) => [
      d.id ?? '(no id)',
      `${d.type ?? '(no type)'} v${d.version ?? '?'}`,
      String(d.attempts),
      d.deadLetteredAt?.toISOString() ?? '-',
      d.reason ?? '-',
      (d.error ?? '').slice(0, 80),
    ]),
  ]);
}

const help = (usage: string, what: string) => `Usage: txbox inbox dead-letters ${usage}

${what}

${GROUP_HELP}

${SELECTION_HELP}

${CONNECTION_HELP}`;

const amqpOnly = { amqp: true, database: false };

export const inboxDeadLettersList: Command = {
  path: ['inbox', 'dead-letters', 'list'],
  summary: "List a group's dead-lettered messages (they stay in the queue)",
  help: help(
    'list --group <group> [selection] [options]',
    "Lists messages of the group's dead-letter queue, oldest first (default --limit 100). They stay in the queue.",
  ),
  run: (argv, io) =>
    withAdmin(argv, io, amqpOnly, async (admin, values) => {
      const letters = await admin.deadLetters.list(group(values), {
        ...selection(values),
        limit: integer('limit', values.limit) ?? 100,
      });
      print(io, values.json, letters, () => rows(letters));
      return EXIT_CODES.ok;
    }),
};

export const inboxDeadLettersShow: Command = {
  path: ['inbox', 'dead-letters', 'show'],
  summary: 'Show one dead-lettered message with its payload and attempt history',
  help: help(
    'show --group <group> <id> [options]',
    'Shows one message in full. Exit code 4 when there is none with that id.',
  ),
  run: (argv, io) =>
    withAdmin(argv, io, amqpOnly, async (admin, values, positionals) => {
      const found = await admin.deadLetters.show(group(values), onePositional(positionals, 'message id'));
      return printFound(io, values.json, found, 'no dead-lettered message with that id');
    }),
};

export const inboxDeadLettersReplay: Command = {
  path: ['inbox', 'dead-letters', 'replay'],
  summary: "Move dead-lettered messages back to that group's queue only",
  help: help(
    'replay --group <group> <selection> [options]',
    `Moves the selected messages from <group>.dead-letter back to <group> only (through the default
exchange: other groups bound to the same exchange do not see them), with their original ids and
headers and the attempt counter reset. Each is removed from the dead-letter queue only after the
broker confirmed its copy. Exit code 1 when some could not be replayed (they stay in place).`,
  ),
  run: (argv, io) =>
    withAdmin(argv, io, amqpOnly, async (admin, values) => {
      const limit = integer('limit', values.limit);
      const result = await admin.deadLetters.replay(group(values), {
        ...selection(values),
        ...(limit === undefined ? {} : { limit }),
      });
      print(io, values.json, result, () => [
        `replayed ${result.replayed.length} to ${values.queue ?? values.group}`,
        ...result.replayed.map((id) => id ?? '(no id)'),
        ...(result.failed.length ? [`not replayed (still in the dead-letter queue): ${result.failed.length}`] : []),
      ]);
      return result.failed.length ? EXIT_CODES.failed : EXIT_CODES.ok;
    }),
};

export const inboxDeadLettersPurge: Command = {
  path: ['inbox', 'dead-letters', 'purge'],
  summary: "Delete messages from a group's dead-letter queue",
  help: help('purge --group <group> <selection> [options]', 'Deletes the selected messages for good.'),
  run: (argv, io) =>
    withAdmin(argv, io, amqpOnly, async (admin, values) => {
      const limit = integer('limit', values.limit);
      const purged = await admin.deadLetters.purge(group(values), {
        ...selection(values),
        ...(limit === undefined ? {} : { limit }),
      });
      print(io, values.json, { purged }, () => [`purged ${purged}`]);
      return EXIT_CODES.ok;
    }),
};

export const inboxForget: Command = {
  path: ['inbox', 'forget'],
  summary: 'Forget that a group processed a message, so its next delivery runs the handler again',
  help: `Usage: txbox inbox forget --group <group> --id <id> [options]

Deletes the group's inbox record of the message: its next delivery runs the handler again (the
effects of the earlier run stay). Exit code 4 when the group has no record of the id.

${CONNECTION_HELP}`,
  run: (argv, io) =>
    withAdmin(argv, io, { amqp: false, database: true }, async (admin, values) => {
      const [id, ...more] = values.id ?? [];
      if (!id || more.length) throw new UsageError('name one message: --id <id>');
      const forgotten = await admin.forget(values.group as string, id);
      print(io, values.json, { forgotten }, () => [
        forgotten ? `forgot ${id} in group ${values.group}` : `group ${values.group} has no record of ${id}`,
      ]);
      return forgotten ? EXIT_CODES.ok : EXIT_CODES.notFound;
    }),
};
