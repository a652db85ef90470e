// The operations on one group's dead-letter queue. RabbitMQ has no "peek": each operation takes
// messages with basic.get and manual ack on a channel of its own, acks only what it has finished
// with (replayed and confirmed, or purged), and closing the channel returns everything else to
// the queue. A crash at any point therefore loses nothing: an unacked message goes back to the
// dead-letter queue, and one replayed but not yet acked exists twice (the inbox skips the copy
// that arrives second).
import { TxboxError } from '@txbox/core';
import { copyProperties } from '@txbox/core/internal';
import type { ConfirmChannel, GetMessage, Options } from 'amqplib';
import { partitionNames } from '../topology/topology.js';
import { type InboxDeadLetter, matchesFilter, replayHeaders, toInboxDeadLetter } from './inbox-dead-letter.js';
import type { ResolvedInboxDeadLetterFilter } from './inbox-dead-letter-filter.js';

/** Messages published per confirm round trip while replaying. */
const REPLAY_CHUNK = 256;

export interface GroupQueues {
  group: string;
  queue: string;
  deadLetterQueue: string;
}

export interface ReplayResult {
  /** Ids of the messages moved back to the group's queue (null for a message without id). */
  replayed: (string | null)[];
  /** Messages matched but left in the dead-letter queue (not confirmed or returned by the broker). */
  failed: (string | null)[];
}

/** A message taken (unacked) from a dead-letter queue, with how it is shown. */
export interface Taken {
  message: GetMessage;
  view: InboxDeadLetter;
}

/**
 * Takes the messages of `queue` matching `filter` (at most `limit`), leaving them unacked on
 * `channel`. Stops at the queue's depth when it started, so messages requeued or arriving
 * meanwhile are not read twice.
 */
export async function takeMatching(
  channel: ConfirmChannel,
  queue: string,
  filter: ResolvedInboxDeadLetterFilter,
  limit: number,
): Promise<Taken[]> {
  const { messageCount } = await channel.checkQueue(queue);
  const taken: Taken[] = [];
  for (let seen = 0; seen < messageCount && taken.length < limit; seen += 1) {
    const message = await channel.get(queue, { noAck: false });
    if (!message) break;
    const view = toInboxDeadLetter(message);
    if (matchesFilter(view, filter)) taken.push({ message, view });
  }
  return taken;
}

/**
 * Where a replayed copy goes: the group's own queue through the default exchange, or a partitioned
 * group's partition exchange (which hashes the copy's unchanged partition header onto its key's
 * partition). Either way no other group bound to the topic exchange sees it.
 */
export type ReplayDestination = { queue: string } | { partitionExchange: string };

/**
 * Publishes each taken message to `destination` with its original id, properties and headers,
 * waits for the broker's confirms, then acks the dead-letter copies confirmed. A copy the broker
 * returns (the queue vanished) or does not confirm stays in the dead-letter queue.
 */
export async function replayTaken(
  channel: ConfirmChannel,
  destination: ReplayDestination,
  taken: readonly Taken[],
  onReplayed?: (id: string | null) => void,
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], failed: [] };
  const returned = new Set<string | undefined>();
  const onReturn = (message: { properties: { messageId?: string } }) => returned.add(message.properties.messageId);
  channel.on('return', onReturn);
  try {
    for (let start = 0; start < taken.length; start += REPLAY_CHUNK) {
      const chunk = taken.slice(start, start + REPLAY_CHUNK);
      const confirmed = await Promise.all(chunk.map(({ message }) => publishCopy(channel, destination, message)));
      chunk.forEach(({ message, view }, i) => {
        // basic.return arrives before the confirm of the same message, so `returned` is complete here.
        const ok = confirmed[i] && !returned.has(message.properties.messageId);
        if (ok) {
          channel.ack(message);
          result.replayed.push(view.id);
          onReplayed?.(view.id);
        } else {
          result.failed.push(view.id);
        }
      });
    }
  } finally {
    channel.off('return', onReturn);
  }
  return result;
}

function publishCopy(channel: ConfirmChannel, destination: ReplayDestination, message: GetMessage): Promise<boolean> {
  // mandatory: a queue deleted meanwhile returns the copy instead of dropping it.
  const options: Options.Publish = { ...copyProperties(message, replayHeaders(message)), mandatory: true };
  return new Promise((resolve) => {
    try {
      const done = (error: unknown) => resolve(!error);
      if ('queue' in destination) channel.sendToQueue(destination.queue, message.content, options, done);
      else channel.publish(destination.partitionExchange, message.fields.routingKey, message.content, options, done);
    } catch {
      resolve(false);
    }
  });
}

/**
 * A partitioned group's partition queues (`<queue>.p0` …), or undefined when the group has no
 * partition exchange (it is not partitioned, or never started).
 */
export async function inspectPartitions(
  open: () => Promise<ConfirmChannel>,
  queue: string,
): Promise<{ exchange: string; queues: { name: string; messages: number; consumers: number }[] } | undefined> {
  const exchange = partitionNames.exchange(queue);
  if (!(await passiveCheck(open, `exchange ${exchange}`, (channel) => channel.checkExchange(exchange))))
    return undefined;
  const queues: { name: string; messages: number; consumers: number }[] = [];
  // One channel for the queues: the 404 after the last one closes it.
  await passiveCheck(open, `the partition queues of ${queue}`, async (channel) => {
    for (let i = 0; i < MAX_PARTITIONS; i++) {
      const name = partitionNames.queue(queue, i);
      const info = await channel.checkQueue(name);
      queues.push({ name, messages: info.messageCount, consumers: info.consumerCount });
    }
  });
  return { exchange, queues };
}

/**
 * Runs passive checks on a throwaway channel (a 404 closes it): true when they all found their
 * object, false at the first that did not; other failures are a CONNECTION_FAILED.
 */
async function passiveCheck(
  open: () => Promise<ConfirmChannel>,
  what: string,
  check: (channel: ConfirmChannel) => Promise<unknown>,
): Promise<boolean> {
  const channel = await open();
  try {
    await check(channel);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw new TxboxError('CONNECTION_FAILED', `Could not inspect ${what}: ${(error as Error)?.message}`, {
      cause: error,
    });
  } finally {
    await channel.close().catch(() => {});
  }
}

const isNotFound = (error: unknown) => /NOT_FOUND|404/.test(String((error as Error)?.message));

/** The consumer's upper bound on `partitions.count`. */
const MAX_PARTITIONS = 1024;

/** A queue's depth and consumers, or undefined when it does not exist (checked on a throwaway channel: a 404 closes it). */
export async function inspectQueue(
  open: () => Promise<ConfirmChannel>,
  queue: string,
): Promise<{ messages: number; consumers: number } | undefined> {
  let found: { messages: number; consumers: number } | undefined;
  await passiveCheck(open, `queue ${queue}`, async (channel) => {
    const info = await channel.checkQueue(queue);
    found = { messages: info.messageCount, consumers: info.consumerCount };
  });
  return found;
}
