// The one object operators' tools use on the inbox side: migration status, the dead-letter queue
// of one consumer group (list, show, replay to that group only, purge) and forgetting a
// processed id so its next delivery runs the handler again. The CLI, a dashboard and scripts all
// go through it, so an operation means the same thing everywhere.
import {
  type AmqpConnection,
  ConfigurationError,
  type DatabaseInput,
  type MigrationStatus,
  migrationStatus,
  NotFoundError,
  TxboxError,
} from '@txbox/core';
import {
  checkOut,
  type OwnedPool,
  queryPool,
  resolveAmqpConnection,
  resolvePool,
  validateAmqpName,
} from '@txbox/core/internal';
import type { ConfirmChannel } from 'amqplib';
import { consumerOptionsSchema } from '../consumer/consumer-options.js';
import { retryDelays } from '../failure/failure-policy.js';
import { inboxMigrations } from '../migrations/inbox-migrations.js';
import { forgetDeliverySql, type InboxTables, inboxStatsSql, inboxTables } from '../sql/inbox-sql.js';
import { groupQueueNames, groupTopology, type TopologyNames } from '../topology/topology.js';
import {
  type GroupQueues,
  inspectPartitions,
  inspectQueue,
  type ReplayDestination,
  type ReplayResult,
  replayTaken,
  type Taken,
  takeMatching,
} from './dead-letter-queue.js';
import type { InboxDeadLetter } from './inbox-dead-letter.js';
import {
  type InboxDeadLetterFilter,
  parseInboxDeadLetterFilter,
  type ResolvedInboxDeadLetterFilter,
} from './inbox-dead-letter-filter.js';

export interface InboxAdminOptions {
  /** PostgreSQL, for `status()` and `forget()`: a connection string (the admin owns a small pool) or a `pg.Pool` (yours to end). */
  database?: DatabaseInput;
  /** RabbitMQ, for the dead-letter queues: an amqp:// URL (the admin owns the connection) or an `AmqpConnection` (yours to close). */
  amqp?: string | AmqpConnection;
  /** Schema of the inbox table. @defaultValue `'txbox'` */
  schema?: string;
}

/**
 * A consumer group, by name, or with the queue names it was given (`names` of the consumer) and,
 * for `status()` to find its delay queues, its explicit retry delays (`retry.delaysMs`; default:
 * the consumer's default retry schedule).
 */
export type GroupRef = string | { group: string; names?: TopologyNames; retryDelaysMs?: number[] };

export interface InboxGroupStatus {
  group: string;
  /**
   * The group's queue, or null when it does not exist. For a partitioned group: its partition
   * queues added up (name `<group>.p0…p<P-1>`), each listed in `partitions`.
   */
  queue: { name: string; messages: number; consumers: number } | null;
  /** A partitioned group's partition queues; null for a group with one queue. */
  partitions: { name: string; messages: number; consumers: number }[] | null;
  deadLetterQueue: { name: string; messages: number } | null;
  /** The delay queues of the retry steps that exist, with the messages waiting in each. */
  retryQueues: { name: string; delayMs: number; messages: number }[];
  /** Inbox records kept for the group; null while the schema is not migrated. */
  records: number | null;
}

export interface InboxStatus {
  migrations: MigrationStatus | undefined;
  groups: InboxGroupStatus[];
}

/** Migration status, dead-letter queues and inbox records of consumer groups. */
export class InboxAdmin {
  /** The dead-letter queue of one group at a time. */
  readonly deadLetters: InboxDeadLetters;
  readonly #db: OwnedPool | undefined;
  readonly #amqp: { connection: AmqpConnection; owned: boolean } | undefined;
  readonly #tables: InboxTables;
  #closed = false;

  constructor(options: InboxAdminOptions) {
    if (!options || typeof options !== 'object') throw new ConfigurationError('inboxAdmin', 'options are required');
    this.#tables = inboxTables(options.schema ?? 'txbox');
    this.#db =
      options.database === undefined
        ? undefined
        : resolvePool(options.database, { max: 2, applicationName: 'txbox-inbox-admin' });
    this.#amqp =
      options.amqp === undefined
        ? undefined
        : resolveAmqpConnection(options.amqp, { option: 'inboxAdmin.amqp', connectionName: 'txbox-inbox-admin' });
    this.deadLetters = new InboxDeadLetters(() => this.#channel());
  }

  /** The inbox schema's migrations and, for each group named, its queues and records. */
  async status(groups: readonly GroupRef[] = []): Promise<InboxStatus> {
    const targets = groups.map(resolveGroup);
    const migrations = this.#db ? await this.#migrations() : undefined;
    const current = migrations !== undefined && migrations.current === migrations.latest;
    const out: InboxGroupStatus[] = [];
    for (const [i, target] of targets.entries()) {
      // A partitioned group first: a single queue left from before partitions were enabled is not where its messages go.
      const partitions = this.#amqp ? await inspectPartitions(() => this.#channel(), target.queue) : undefined;
      let queue = this.#amqp && !partitions ? await inspectQueue(() => this.#channel(), target.queue) : undefined;
      const partitionQueues = partitions?.queues ?? [];
      if (partitions && partitionQueues.length > 0) {
        queue = {
          messages: partitionQueues.reduce((sum, p) => sum + p.messages, 0),
          consumers: partitionQueues.reduce((sum, p) => sum + p.consumers, 0),
        };
      }
      const queueName = partitions ? `${target.queue}.p0…p${partitionQueues.length - 1}` : target.queue;
      const dead = this.#amqp ? await inspectQueue(() => this.#channel(), target.deadLetterQueue) : undefined;
      const retryQueues: InboxGroupStatus['retryQueues'] = [];
      for (const delay of this.#amqp ? delayQueuesOf(groups[i] as GroupRef) : []) {
        const found = await inspectQueue(() => this.#channel(), delay.name);
        if (found) retryQueues.push({ ...delay, messages: found.messages });
      }
      let records: number | null = null;
      if (current && this.#db) {
        const { rows } = await queryPool(this.#db.pool, inboxStatsSql(this.#tables), [target.group]);
        records = rows[0]?.records ?? 0;
      }
      out.push({
        group: target.group,
        queue: queue ? { name: queueName, ...queue } : null,
        partitions: partitions ? partitionQueues : null,
        deadLetterQueue: dead ? { name: target.deadLetterQueue, messages: dead.messages } : null,
        retryQueues,
        records,
      });
    }
    return { migrations, groups: out };
  }

  /**
   * Deletes the group's inbox record of message `id`, so the next delivery of that id runs the
   * handler again (the handler's earlier effects stay: make sure running it again is what you
   * want). Returns false when the group had no record of the id.
   */
  async forget(group: string, id: string): Promise<boolean> {
    validateAmqpName('consumer group', group);
    const [messageId] = parseInboxDeadLetterFilter({ ids: [id] }, 'forget', { mutation: false }).ids ?? [];
    const { rowCount } = await queryPool(this.#requireDb('forget()').pool, forgetDeliverySql(this.#tables), [
      group,
      messageId,
    ]);
    return (rowCount ?? 0) > 0;
  }

  /** Ends the pool and closes the connection the admin created from URLs. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#amqp?.owned) await this.#amqp.connection.close();
    if (this.#db?.owned) await this.#db.pool.end();
  }

  async #migrations(): Promise<MigrationStatus> {
    const db = this.#requireDb('status()');
    const held = await checkOut(db.pool).catch((cause: unknown) => {
      throw new TxboxError('CONNECTION_FAILED', `Cannot connect to PostgreSQL at ${db.safeTarget}`, { cause });
    });
    try {
      return await migrationStatus(held.client, inboxMigrations, this.#tables.schema);
    } finally {
      held.release();
    }
  }

  #requireDb(method: string): OwnedPool {
    if (!this.#db) throw new ConfigurationError('inboxAdmin.database', `${method} needs the database option`);
    return this.#db;
  }

  async #channel(): Promise<ConfirmChannel> {
    if (!this.#amqp) throw new ConfigurationError('inboxAdmin.amqp', 'dead-letter operations need the amqp option');
    // One attempt: an operator's command should fail fast when the broker is unreachable.
    const channel = await this.#amqp.connection.createConfirmChannel({ retry: false });
    // A channel the broker closes (404 on a missing queue) emits 'error'; the operation's promise reports it.
    channel.on('error', () => {});
    return channel;
  }
}

/** List, show, replay and purge the dead-letter queue of one consumer group. */
export class InboxDeadLetters {
  readonly #open: () => Promise<ConfirmChannel>;

  constructor(open: () => Promise<ConfirmChannel>) {
    this.#open = open;
  }

  /** Messages of the group's dead-letter queue matching `filter` (at most `limit`, default 100), oldest first; they stay in the queue. */
  async list(group: GroupRef, filter: InboxDeadLetterFilter = {}): Promise<InboxDeadLetter[]> {
    const target = resolveGroup(group);
    const parsed = parseInboxDeadLetterFilter(filter, 'list', { mutation: false });
    return this.#withTaken(target, { ...parsed, limit: parsed.limit ?? 100 }, async (_channel, taken) =>
      taken.map((t) => t.view),
    );
  }

  /** One dead-lettered message by id, or undefined. */
  async show(group: GroupRef, id: string): Promise<InboxDeadLetter | undefined> {
    const [found] = await this.list(group, { ids: [id], limit: 1 });
    return found;
  }

  /**
   * Moves the selected messages (ids, or a filter) from `<group>.dead-letter` back to `<group>`
   * only: published through the default exchange straight to the group's queue (a partitioned
   * group's: through its partition exchange, onto each key's partition), with their
   * original ids, properties and headers (the dead-letter verdict removed, the attempt counter
   * reset), so no other group bound to the exchange runs them again. Each is acked in the
   * dead-letter queue only after the broker confirmed its copy.
   */
  async replay(group: GroupRef, selection: readonly string[] | InboxDeadLetterFilter): Promise<ReplayResult> {
    const target = resolveGroup(group);
    const parsed = parseInboxDeadLetterFilter(selection, 'replay', { mutation: true });
    // A partitioned group first (an old single queue may still exist beside its partitions).
    const partitions = await inspectPartitions(this.#open, target.queue);
    const destination: ReplayDestination = partitions
      ? { partitionExchange: partitions.exchange }
      : { queue: target.queue };
    if (!partitions && !(await inspectQueue(this.#open, target.queue))) {
      throw new NotFoundError('queue', target.queue, `consumer group ${target.group} has no queue to replay into`);
    }
    return this.#withTaken(target, parsed, (channel, taken) => replayTaken(channel, destination, taken));
  }

  /** Deletes the selected messages (ids, a filter, or `'all'`) from the group's dead-letter queue. Returns how many. */
  async purge(group: GroupRef, selection: readonly string[] | InboxDeadLetterFilter | 'all'): Promise<number> {
    const target = resolveGroup(group);
    const parsed = parseInboxDeadLetterFilter(selection === 'all' ? { all: true } : selection, 'purge', {
      mutation: true,
    });
    return this.#withTaken(target, parsed, async (channel, taken) => {
      for (const { message } of taken) channel.ack(message);
      return taken.length;
    });
  }

  /**
   * Takes the matching messages (up to the filter's limit) on a channel of its own and runs `fn`
   * on them; closing the channel returns every message `fn` did not ack to the queue.
   */
  async #withTaken<T>(
    target: GroupQueues,
    filter: ResolvedInboxDeadLetterFilter,
    fn: (channel: ConfirmChannel, taken: Taken[]) => Promise<T>,
  ): Promise<T> {
    const queue = target.deadLetterQueue;
    if (!(await inspectQueue(this.#open, queue))) {
      throw new NotFoundError(
        'queue',
        queue,
        'the consumer group has no dead-letter queue (it never started, or its names differ)',
      );
    }
    const channel = await this.#open();
    try {
      const taken = await takeMatching(channel, queue, filter, filter.limit ?? Number.POSITIVE_INFINITY);
      const result = await fn(channel, taken);
      // Acks are sent before the close on the same channel, so the broker settles them first.
      await channel.close();
      return result;
    } catch (error) {
      await channel.close().catch(() => {});
      throw error;
    }
  }
}

function resolveGroup(ref: GroupRef): GroupQueues {
  const group = typeof ref === 'string' ? ref : ref?.group;
  validateAmqpName('consumer group', group);
  const names = typeof ref === 'string' ? undefined : ref.names;
  return { group, ...groupQueueNames(group, names) };
}

/** The consumer's default retry steps, for groups whose delays are not given. */
const DEFAULT_RETRY_DELAYS_MS = retryDelays(consumerOptionsSchema.parse({ group: 'default' }).retry);

/**
 * The delay queues a consumer of `ref` declares (the same naming rule as its topology): a classic
 * group's and a quorum group's (named apart, see `delayQueueName`); status lists those that exist,
 * so a quorum group created before its delay queues were quorum shows the old ones while they drain.
 */
function delayQueuesOf(ref: GroupRef): { name: string; delayMs: number }[] {
  const group = typeof ref === 'string' ? ref : ref.group;
  const names = typeof ref === 'string' ? undefined : ref.names;
  const retryDelaysMs = (typeof ref === 'string' ? undefined : ref.retryDelaysMs) ?? DEFAULT_RETRY_DELAYS_MS;
  return (['classic', 'quorum'] as const).flatMap(
    (queueType) =>
      groupTopology({ group, exchange: 'unused', names, retryDelaysMs, bindings: [], queueType }).delayQueues,
  );
}

/** Creates an {@link InboxAdmin}. */
export function createInboxAdmin(options: InboxAdminOptions): InboxAdmin {
  return new InboxAdmin(options);
}
