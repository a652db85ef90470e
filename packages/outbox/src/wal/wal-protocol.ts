// The few frames of PostgreSQL's streaming replication protocol the WAL relay reads and writes,
// and the three pgoutput messages it needs (Begin, Commit, logical Message). Pure functions over
// buffers; the connection that carries them is in replication-stream.ts.
//
// Frames: https://www.postgresql.org/docs/current/protocol-replication.html
// pgoutput: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html

/** A WAL position (LSN) as a 64-bit integer, so positions compare and subtract exactly. */
export type Lsn = bigint;

/** PostgreSQL's `X/Y` text form (hex halves) of an LSN. */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function parseLsn(text: string): Lsn {
  const [high, low] = text.split('/');
  if (high === undefined || low === undefined) throw new Error(`Not an LSN: ${text}`);
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** Microseconds from 1970 to 2000-01-01, PostgreSQL's epoch for protocol timestamps. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

function pgTimeToDate(micros: bigint): Date {
  return new Date(Number((micros + PG_EPOCH_MICROS) / 1000n));
}

/** What one CopyData frame of the replication stream carries. */
export type ReplicationFrame =
  | { kind: 'xlog'; walStart: Lsn; walEnd: Lsn; data: Buffer }
  | { kind: 'keepalive'; walEnd: Lsn; replyRequested: boolean };

export function parseReplicationFrame(chunk: Buffer): ReplicationFrame | undefined {
  const tag = chunk[0];
  if (tag === 0x77 /* w: XLogData */) {
    return {
      kind: 'xlog',
      walStart: chunk.readBigUInt64BE(1),
      walEnd: chunk.readBigUInt64BE(9),
      data: chunk.subarray(25),
    };
  }
  if (tag === 0x6b /* k: primary keepalive */) {
    return { kind: 'keepalive', walEnd: chunk.readBigUInt64BE(1), replyRequested: chunk[17] === 1 };
  }
  return undefined;
}

/**
 * A standby status update reporting `lsn` as written, flushed and applied. The server takes
 * the flush position as "everything before this is done": it restarts a slot at the first
 * transaction whose commit record starts at or after it. So the position sent is exactly a
 * commit's end (or a keepalive's WAL end), never one past it.
 */
export function standbyStatusUpdate(lsn: Lsn, now: Date, replyRequested = false): Buffer {
  const frame = Buffer.alloc(34);
  frame[0] = 0x72; // r
  frame.writeBigUInt64BE(lsn, 1);
  frame.writeBigUInt64BE(lsn, 9);
  frame.writeBigUInt64BE(lsn, 17);
  frame.writeBigInt64BE(BigInt(now.getTime()) * 1000n - PG_EPOCH_MICROS, 25);
  frame[33] = replyRequested ? 1 : 0;
  return frame;
}

/** The pgoutput messages the relay acts on; everything else (relations, row changes) is `other`. */
export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTime: Date; xid: number }
  | { tag: 'commit'; commitLsn: Lsn; endLsn: Lsn; commitTime: Date }
  | { tag: 'message'; transactional: boolean; lsn: Lsn; prefix: string; content: Buffer }
  | { tag: 'other' };

export function parsePgoutput(data: Buffer): PgoutputMessage {
  switch (data[0]) {
    case 0x42 /* B */:
      return {
        tag: 'begin',
        finalLsn: data.readBigUInt64BE(1),
        commitTime: pgTimeToDate(data.readBigInt64BE(9)),
        xid: data.readUInt32BE(17),
      };
    case 0x43 /* C */:
      return {
        tag: 'commit',
        commitLsn: data.readBigUInt64BE(2),
        endLsn: data.readBigUInt64BE(10),
        commitTime: pgTimeToDate(data.readBigInt64BE(18)),
      };
    case 0x4d /* M */:
      {
        // Protocol version 1 (no streamed transactions): no xid field before the flags.
        const transactional = (data[1] ?? 0) & 1;
        const lsn = data.readBigUInt64BE(2);
        const prefixEnd = data.indexOf(0, 10);
        const prefix = data.toString('utf8', 10, prefixEnd);
        const length = data.readUInt32BE(prefixEnd + 1);
        const start = prefixEnd + 5;
        return {
          tag: 'message',
          transactional: transactional === 1,
          lsn,
          prefix,
          content: data.subarray(start, start + length),
        };
      }
    default:
      return { tag: 'other' };
  }
}
