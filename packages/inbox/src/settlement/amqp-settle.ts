// Copying a delivery to another queue (a delay queue, the dead-letter queue) with publisher
// confirms, before the original is acknowledged (see ack-ledger.ts). A copy counts only once the broker confirmed it, so the original
// is acknowledged after that and a lost channel leaves it unacknowledged (redelivered, not lost).
import { TxboxError } from '@txbox/core';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';

/** Sends a copy of `message` (body and properties, new headers) to `queue`, and waits for the confirm. */
export async function publishConfirmed(
  channel: ConfirmChannel,
  queue: string,
  message: ConsumeMessage,
  headers: Record<string, unknown>,
): Promise<void> {
  const { properties } = message;
  const options: Options.Publish = {
    headers,
    persistent: true,
    contentType: properties.contentType,
    contentEncoding: properties.contentEncoding,
    messageId: properties.messageId,
    correlationId: properties.correlationId,
    type: properties.type,
    timestamp: properties.timestamp,
    appId: properties.appId,
  };
  await new Promise<void>((resolve, reject) => {
    channel.sendToQueue(queue, message.content, options, (err: unknown) => {
      if (!err) return resolve();
      // A nacked copy leaves the original unacknowledged on a channel that stays open, where the
      // broker would never redeliver it. Closing the channel requeues it (the channel's supervisor
      // opens a new one; deliveries settled meanwhile come back as duplicates, which the inbox
      // skips). After a cluster node loss a channel can nack every copy to a quorum queue whose
      // leader moved, so a new channel is the fix, not a retry on this one.
      channel.close().catch(() => {});
      reject(new TxboxError('PUBLISH_FAILED', `RabbitMQ did not confirm the copy to ${queue}`));
    });
  });
}
