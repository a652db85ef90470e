// Every value taken from a URL or a form is checked here before it reaches the admin API: ids
// are UUIDs (outbox) or AMQP message ids of the listed shape (inbox, also UUIDs: txbox writes
// UUIDv7 ids), groups are the configured ones, pages are bounded. A failure is a 400 page.
import { isUuid, validateAmqpName } from '@txbox/core/internal';

/** A request the dashboard refuses with 400 and this message. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

export function messageIdParam(value: string | undefined): string {
  if (value === undefined || !isUuid(value)) throw new InputError('the message id must be a UUID');
  return value.toLowerCase();
}

/** A consumer group the dashboard was configured with (it never acts on a group it was not told about). */
export function groupParam(value: string | undefined, groups: readonly string[]): string {
  if (value === undefined) throw new InputError('a consumer group is required');
  try {
    validateAmqpName('consumer group', value);
  } catch {
    throw new InputError('the consumer group name is not valid');
  }
  if (!groups.includes(value)) throw new InputError('that consumer group is not shown by this dashboard');
  return value;
}

/** A page offset from the query string: a whole number up to 1,000,000. */
export function offsetParam(value: string | null): number {
  if (value === null || value === '') return 0;
  if (!/^\d{1,7}$/.test(value)) throw new InputError('offset must be a whole number up to 1000000');
  return Number(value);
}

/** The ids selected in an action form: at least one, each a UUID, at most `max`. */
export function idsField(values: readonly string[], max: number): string[] {
  if (values.length === 0) throw new InputError('select at least one message');
  if (values.length > max) throw new InputError(`select at most ${max} messages`);
  return values.map(messageIdParam);
}
