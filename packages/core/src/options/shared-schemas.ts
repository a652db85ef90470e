// Option values more than one component accepts, with one range each: a message size (the writer's
// payload limit and the consumer's body limit must agree) and a delay.
import { z } from 'zod';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../envelope/amqp-codec.js';

/** A message size in bytes: up to RabbitMQ's default maximum, 256 KiB unless given. */
export const messageBytesSchema = z
  .number()
  .int()
  .min(1)
  .max(128 * 1024 * 1024, 'must be at most 128 MiB (RabbitMQ’s default max message size)')
  .default(DEFAULT_MAX_MESSAGE_BYTES);

/** A delay in ms: from 1 ms to one day. */
export const delayMsSchema = z.number().int().min(1).max(86_400_000);
