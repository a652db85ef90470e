// `txbox status`: one look at a deployment — both schemas' migrations, the outbox backlog and
// dead letters, and for each consumer group named its queue, dead-letter queue and inbox records.
import { createInboxAdmin, type InboxStatus } from '@txbox/inbox';
import { createOutboxAdmin, type OutboxStatus } from '@txbox/outbox';
import { CONNECTION_HELP, CONNECTION_OPTIONS, databaseUrl, parseCommand } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { EXIT_CODES, UsageError } from '../cli/exit-codes.js';
import { print } from '../cli/io.js';
import { statusLine, statusView } from './migrate.js';

export const status: Command = {
  path: ['status'],
  summary: 'Migrations, outbox backlog and dead letters, and consumer groups (--group)',
  help: `Usage: txbox status [--component outbox|inbox] [--group <group>]... [options]

Shows the migrations of the outbox and inbox schemas, the outbox stats (pending, due, leased,
oldest due age, dead letters), the WAL relay's slot and its lag (WAL mode, --slot) and, for each --group, its queue, dead-letter queue and inbox
records (the queues need --amqp-url or $AMQP_URL). Exit code 3 while migrations are pending.

Options:
  --component <name>      Only this component: outbox or inbox (repeatable; default: both)
  --group <group>         A consumer group to show (repeatable)
  --slot <name>           WAL mode: the replication slot (default: txbox_<schema>)

${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values } = parseCommand(argv, {
      ...CONNECTION_OPTIONS,
      component: { type: 'string', multiple: true },
      slot: { type: 'string' },
      group: { type: 'string', multiple: true },
    });
    const wanted = new Set(values.component ?? ['outbox', 'inbox']);
    for (const c of wanted)
      if (c !== 'outbox' && c !== 'inbox') throw new UsageError(`unknown component ${JSON.stringify(c)}`);
    const database = databaseUrl(values, io);
    const amqp = values['amqp-url'] ?? io.env.AMQP_URL;
    const groups = values.group ?? [];
    let outbox: OutboxStatus | undefined;
    let inbox: InboxStatus | undefined;
    if (wanted.has('outbox')) {
      const admin = createOutboxAdmin({
        database,
        schema: values.schema,
        ...(values.slot ? { slot: values.slot } : {}),
      });
      try {
        outbox = await admin.status();
      } finally {
        await admin.close();
      }
    }
    if (wanted.has('inbox')) {
      const admin = createInboxAdmin({ database, schema: values.schema, ...(groups.length && amqp ? { amqp } : {}) });
      try {
        inbox = await admin.status(groups);
      } finally {
        await admin.close();
      }
    }
    const report = {
      outbox: outbox && { migrations: statusView(outbox.migrations), stats: outbox.stats ?? null, slot: outbox.slot },
      inbox: inbox && { migrations: inbox.migrations && statusView(inbox.migrations), groups: inbox.groups },
    };
    print(io, values.json, report, () => lines(outbox, inbox));
    const pending = [outbox?.migrations, inbox?.migrations].some((m) => m && m.current !== m.latest);
    return pending ? EXIT_CODES.migrationsPending : EXIT_CODES.ok;
  },
};

function lines(outbox: OutboxStatus | undefined, inbox: InboxStatus | undefined): string[] {
  const out: string[] = [];
  if (outbox) {
    out.push(statusLine(outbox.migrations));
    const s = outbox.stats;
    if (s) {
      out.push(
        `  outbox: ${s.pending} pending, ${s.due} due, ${s.leased} leased, oldest due ${s.oldestDueAgeMs} ms, ${s.deadLetters} dead letters, ${s.publishedRetained} published kept`,
      );
    }
    const slot = outbox.slot;
    if (slot) {
      out.push(
        `  WAL slot ${slot.name}: ${slot.active ? 'streaming' : 'inactive'}, ${slot.lagBytes} bytes behind${slot.walStatus ? `, WAL ${slot.walStatus}` : ''}`,
      );
    }
  }
  if (inbox?.migrations) out.push(statusLine(inbox.migrations));
  for (const g of inbox?.groups ?? []) {
    const queue = g.queue ? `${g.queue.messages} ready, ${g.queue.consumers} consumers` : 'no queue (or no --amqp-url)';
    const partitions = g.partitions
      ? ` over ${g.partitions.length} partitions (${g.partitions.map((p, i) => `p${i} ${p.messages}/${p.consumers}`).join(' ')})`
      : '';
    const dead = g.deadLetterQueue ? `${g.deadLetterQueue.messages} dead letters` : 'no dead-letter queue';
    const records = g.records === null ? '' : `, ${g.records} inbox records`;
    out.push(`  group ${g.group}: ${queue}${partitions}, ${dead}${records}`);
  }
  return out;
}
