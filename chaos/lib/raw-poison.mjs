// @ts-check
// Deliveries that no txbox producer would send, published straight to the exchange with a
// routing key the groups are bound to: bodies that are not JSON, missing or garbled properties
// and headers, unknown types and versions, wrong shapes. Each must end in every group's
// dead-letter queue with the expected reason. x-chaos-id identifies each (some have no message-id).
import { randomUUID } from 'node:crypto';

/**
 * @typedef {object} RawDelivery
 * @property {string} routingKey
 * @property {Buffer} content
 * @property {{ messageId?: string, type?: string, contentType: string, persistent: boolean,
 *   headers: Record<string, unknown> }} properties
 */

/** @typedef {RawDelivery & { name: string, reason: string, chaosId: string, messageId: string | null }} RawPoison */

/** @returns {RawPoison[]} */
export function rawPoisonVariants() {
  /**
   * @param {Partial<RawDelivery>} [over]
   * @returns {RawDelivery}
   */
  const good = (over = {}) => ({
    routingKey: 'chaos.event',
    content: Buffer.from(JSON.stringify({ producer: 'raw', n: 0, pad: '' })),
    properties: {
      messageId: randomUUID(),
      type: 'chaos.event',
      contentType: 'application/json',
      persistent: true,
      headers: { 'x-txbox-version': 1 },
    },
    ...over,
  });
  /** @param {Record<string, unknown>} headers */
  const withHeaders = (headers) => {
    const v = good();
    v.properties.headers = { ...v.properties.headers, ...headers };
    return v;
  };
  /** @type {[name: string, reason: string, delivery: RawDelivery][]} */
  const variants = [
    ['body not JSON', 'malformed', good({ content: Buffer.from('not json {') })],
    ['empty body', 'malformed', good({ content: Buffer.alloc(0) })],
    ['binary garbage body', 'malformed', good({ content: Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x7b]) })],
    [
      'no message-id',
      'malformed',
      (() => {
        const v = good();
        delete v.properties.messageId;
        return v;
      })(),
    ],
    [
      'no type property',
      'malformed',
      (() => {
        const v = good();
        delete v.properties.type;
        return v;
      })(),
    ],
    ['version header garbled', 'malformed', withHeaders({ 'x-txbox-version': 'one' })],
    ['version header negative', 'malformed', withHeaders({ 'x-txbox-version': -3 })],
    ['occurred-at header garbled', 'malformed', withHeaders({ 'x-txbox-occurred-at': 'yesterday' })],
    ['key header not a string', 'malformed', withHeaders({ 'x-txbox-key': 12345 })],
    [
      'unknown type',
      'unknown type',
      (() => {
        const v = good();
        v.properties.type = 'chaos.nobody-handles-this';
        return v;
      })(),
    ],
    ['unknown version', 'unknown version', withHeaders({ 'x-txbox-version': 99 })],
    ['valid JSON, wrong shape', 'invalid payload', good({ content: Buffer.from('{"producer":1}') })],
    [
      "oversized body (1 MiB) over the consumer's maxMessageBytes",
      'malformed',
      good({ content: Buffer.from(JSON.stringify({ producer: 'raw', n: 1, pad: 'x'.repeat(1 << 20) })) }),
    ],
    [
      'Latin-1 body (not valid UTF-8)',
      'malformed',
      good({ content: Buffer.from('{"producer":"caf\xe9","n":1}', 'latin1') }),
    ],
  ];
  return variants.map(([name, reason, v]) => {
    const chaosId = randomUUID();
    v.properties.headers = { ...v.properties.headers, 'x-chaos-id': chaosId };
    return { name, reason, chaosId, messageId: v.properties.messageId ?? null, ...v };
  });
}
