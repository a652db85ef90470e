// The two broker operations that settle a delivery: acknowledge it, or copy it to another queue
// with publisher confirms first. A copy counts only once the broker confirmed it, so the original
// is acknowledged after that and a lost channel leaves it unacknowledged (redelivered, not lost).
import { TxboxError } from '@txbox/core';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';

export function safeAck(channel: ConfirmChannel, message: ConsumeMessage): void {
  try {
    channel.ack(message);
  } catch {
    // The channel closed after commit: the broker redelivers, and the inbox skips the duplicate.
  }
}

/** Sends a copy of `message` (body and properties, new headers) to `queue`, and waits for the confirm. */
export async function publishConfirmed(
  channel: ConfirmChannel,
  queue: string,
  message: ConsumeMessage,
  headers: Record<string, unknown>,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    channel.sendToQueue(queue, message.content, copyProperties(message, headers), (err: unknown) =>
      err ? reject(new TxboxError('PUBLISH_FAILED', `RabbitMQ did not confirm the copy to ${queue}`)) : resolve(),
    );
  });
}

/** The publish options of a copy of `message`: its properties (id, type, timestamp…) with `headers`. */
export function copyProperties(
  message: Pick<ConsumeMessage, 'properties'>,
  headers: Record<string, unknown>,
): Options.Publish {
  const { properties } = message;
  return {
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
}
