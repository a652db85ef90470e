// One streaming-replication connection reading a pgoutput slot, on `pg`'s own copy-both
// support (a `replication: 'database'` client, CopyData frames on its connection). Events are
// handed over in the order they arrive on the wire — keepalives included, which is what makes
// a keepalive's WAL position safe to confirm once everything before it is settled.
//
// Why not pg-logical-replication (read for this): its periodic acknowledgement confirms the
// last LSN *received*, not settled; it reports one byte past the LSN it is given (which would
// let the slot skip a commit record that starts exactly there); and with its flow control on,
// keepalives overtake the data frames still queued. The protocol part we need is two frames
// and three pgoutput messages (wal-protocol.ts).
import type { TxboxLogger } from '@txbox/core';
import pg from 'pg';
import { WalSlotInUseError, WalSlotMissingError } from './wal-errors.js';
import { type Lsn, parsePgoutput, parseReplicationFrame, standbyStatusUpdate } from './wal-protocol.js';

export type StreamEvent =
  | { kind: 'begin'; commitTime: Date }
  | { kind: 'message'; prefix: string; content: Buffer }
  | { kind: 'commit'; endLsn: Lsn }
  | { kind: 'keepalive'; walEnd: Lsn; replyRequested: boolean };

export interface ReplicationStreamOptions {
  clientConfig: pg.ClientConfig;
  slot: string;
  publication: string;
  onEvent: (event: StreamEvent) => void;
  logger: TxboxLogger;
}

interface PgConnection {
  on(event: 'copyData', listener: (msg: { chunk: Buffer }) => void): void;
  once(event: 'replicationStart', listener: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void };
}

export class ReplicationStream {
  readonly #client: pg.Client;
  readonly #connection: PgConnection;
  /** Settles when the stream ends: rejected with why, resolved after close(). */
  readonly ended: Promise<void>;
  #closing = false;

  private constructor(client: pg.Client, ended: Promise<void>) {
    this.#client = client;
    this.#connection = (client as unknown as { connection: PgConnection }).connection;
    this.ended = ended;
  }

  /**
   * Connects and starts streaming from the slot's confirmed position. Rejects with
   * WalSlotInUseError while another connection streams the slot, WalSlotMissingError if
   * there is none.
   */
  static async open(options: ReplicationStreamOptions): Promise<ReplicationStream> {
    const client = new pg.Client({
      ...options.clientConfig,
      replication: 'database',
      application_name: `txbox-wal-relay ${options.slot}`,
    } as pg.ClientConfig);
    let failed: (error: Error) => void = () => {};
    const broken = new Promise<never>((_, reject) => {
      failed = reject;
    });
    broken.catch(() => {});
    client.on('error', (error) => failed(error));
    client.on('end', () => failed(new Error('The replication connection ended')));
    await client.connect();
    const connection = (client as unknown as { connection: PgConnection }).connection;
    connection.on('copyData', ({ chunk }) => {
      const frame = parseReplicationFrame(chunk);
      if (frame?.kind === 'keepalive') {
        options.onEvent({ kind: 'keepalive', walEnd: frame.walEnd, replyRequested: frame.replyRequested });
        return;
      }
      if (frame?.kind !== 'xlog') return;
      const message = parsePgoutput(frame.data);
      if (message.tag === 'begin') options.onEvent({ kind: 'begin', commitTime: message.commitTime });
      else if (message.tag === 'commit') options.onEvent({ kind: 'commit', endLsn: message.endLsn });
      else if (message.tag === 'message' && message.transactional) {
        options.onEvent({ kind: 'message', prefix: message.prefix, content: Buffer.from(message.content) });
      }
    });
    const started = new Promise<void>((resolve) => connection.once('replicationStart', resolve));
    const streaming = client
      .query(
        `START_REPLICATION SLOT "${options.slot}" LOGICAL 0/0 ` +
          `(proto_version '1', publication_names '${options.publication}', messages 'true')`,
      )
      .then(
        () => undefined,
        (error: { code?: string }) => {
          if (error.code === '55006') throw new WalSlotInUseError(options.slot, { cause: error });
          if (error.code === '42704') throw new WalSlotMissingError(options.slot);
          throw error;
        },
      );
    const stream = new ReplicationStream(client, Promise.race([streaming, broken]));
    try {
      await Promise.race([started, stream.ended]);
    } catch (error) {
      await stream.close();
      throw error;
    }
    stream.ended.catch(() => {});
    return stream;
  }

  /** Tells the server everything before `lsn` is done: the slot may release that WAL. */
  sendStatus(lsn: Lsn, replyRequested = false): void {
    if (this.#closing) return;
    try {
      this.#connection.sendCopyFromChunk(standbyStatusUpdate(lsn, new Date(), replyRequested));
    } catch {
      // The connection is gone; `ended` reports it.
    }
  }

  /** Back-pressure: stop reading the socket (the server waits) until resume(). */
  pause(): void {
    this.#connection.stream.pause();
  }

  resume(): void {
    this.#connection.stream.resume();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.resume();
    // end() waits for the server to close; a stalled one must not hold up a stop.
    await Promise.race([this.#client.end().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}
