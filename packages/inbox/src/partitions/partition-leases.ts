// Who consumes which partition: PostgreSQL session advisory locks on one connection per instance.
// Chosen over a lease table (no migration, no heartbeat writes) because the server ends a lock
// with its session: an instance that dies loses its partitions at once (its socket closes), and
// one that freezes or is cut off loses them after `leaseMs`, since the session runs with
// `idle_session_timeout = leaseMs` and a live instance speaks on it every `rebalanceIntervalMs`.
//
// Each instance holds one member lock (a slot number) and one lock per partition it consumes.
// The member locks say how many instances are alive; each takes its share (P / n, the first
// P mod n ranks one more), hands over what is above it and takes free partitions below it.
// The locks only share the work out: that no two instances consume a partition at once is the
// broker's single active consumer, and the order across a hand-over is the caller's protocol.
import { ConfigurationError, type TxboxLogger } from '@txbox/core';
import { checkOut } from '@txbox/core/internal';
import type pg from 'pg';

export interface PartitionLeasesOptions {
  pool: pg.Pool;
  /** The lock keys' namespace: schema and group. */
  schema: string;
  group: string;
  count: number;
  leaseMs: number;
  logger: TxboxLogger;
}

/** What one rebalance step asks of the caller. */
export interface RebalanceStep {
  /** Partitions now locked by this instance: start consuming them. */
  take: number[];
  /** Partitions to stop consuming: `release` after the hand-over (a no-op for those whose lock was lost). */
  give: number[];
  /** Below its share after this step (partitions still being handed over by others): step again soon. */
  short: boolean;
}

interface LockSession {
  client: pg.PoolClient;
  release: (broken?: boolean) => void;
  /** Set when the connection failed: its locks are gone. */
  lost: boolean;
}

/** Member slots an instance may take; more instances than this share nothing. */
const MAX_MEMBERS = 1024;

export class PartitionLeases {
  readonly #o: PartitionLeasesOptions;
  #session: LockSession | undefined;
  #slot = -1;
  /** Partitions this session holds the lock of and that are not being handed over. */
  readonly #held = new Set<number>();
  /** Locked by this session but being handed over: unlocked by `release`. */
  readonly #releasing = new Set<number>();
  /** The partitions the caller consumes (taken and not yet given). */
  readonly #consuming = new Set<number>();
  #queue: Promise<unknown> = Promise.resolve();
  /** Until then (after a lost session) the step only keeps what it relocked. */
  #graceUntil = 0;

  constructor(options: PartitionLeasesOptions) {
    this.#o = options;
  }

  /** The partitions this instance consumes now, in order. */
  get owned(): number[] {
    return [...this.#consuming].sort((a, b) => a - b);
  }

  /** One step: renew the session (or open a new one), count the live instances, take or give partitions. */
  step(): Promise<RebalanceStep> {
    return this.#serially(() => this.#step());
  }

  /** Unlocks a partition once its hand-over is complete (the next owner may start). */
  release(partition: number): Promise<void> {
    return this.#serially(() => this.#release(partition));
  }

  /** One statement at a time on the session (a hand-over may finish while a step runs). */
  #serially<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(fn);
    this.#queue = result.catch(() => {});
    return result;
  }

  async #step(): Promise<RebalanceStep> {
    const give: number[] = [];
    if (!this.#session || this.#session.lost) give.push(...(await this.#openSession()));
    const session = this.#session as LockSession;
    try {
      return await this.#rebalance(session.client, give);
    } catch (error) {
      session.lost = true; // next step starts over on a new session
      throw error;
    }
  }

  async #rebalance(client: pg.PoolClient, give: number[]): Promise<RebalanceStep> {
    const { rows } = await this.#query<{ slot: number }>(client, LIVE_MEMBERS_SQL, [this.#memberKey]);
    // Just after a lost session (a PostgreSQL restart ends every instance's at once), the first
    // instance back would see itself alone and take everything, only to hand most of it back:
    // for one leaseMs, keep what was relocked and let the others come back for theirs.
    if (Date.now() < this.#graceUntil) {
      for (const p of give) this.#consuming.delete(p);
      return { take: [], give, short: false };
    }
    const slots = rows.map((r) => r.slot);
    const rank = Math.max(0, slots.indexOf(this.#slot));
    const n = Math.max(1, slots.length);
    const { count } = this.#o;
    const share = Math.floor(count / n) + (rank < count % n ? 1 : 0);
    // Above the share: hand over the highest-numbered partitions first.
    const held = [...this.#held].sort((a, b) => b - a);
    for (const partition of held.slice(0, Math.max(0, held.length - share))) {
      this.#held.delete(partition);
      this.#releasing.add(partition);
      give.push(partition);
    }
    const take: number[] = [];
    const wanted = share - this.#held.size;
    if (wanted > 0) {
      // Start the search at this rank's natural place, so instances rarely race for one partition.
      const start = Math.floor((rank * count) / n);
      const candidates = Array.from({ length: count }, (_, i) => (start + i) % count).filter(
        (p) => !this.#held.has(p) && !this.#releasing.has(p),
      );
      const locked = await this.#query<{ p: number }>(client, TRY_LOCK_SQL, [this.#partitionKey, candidates, wanted]);
      for (const { p } of locked.rows) {
        this.#held.add(p);
        take.push(p);
      }
    }
    for (const p of give) this.#consuming.delete(p);
    for (const p of take) this.#consuming.add(p);
    return { take, give, short: this.#held.size < share };
  }

  async #release(partition: number): Promise<void> {
    if (!this.#releasing.delete(partition)) return;
    const session = this.#session;
    if (!session || session.lost) return; // the lock went with the session
    try {
      await this.#query(session.client, 'SELECT pg_advisory_unlock($1, $2)', [this.#partitionKey, partition]);
    } catch (error) {
      // The session is gone, and its locks with it.
      session.lost = true;
      this.#o.logger.warn('Inbox partition session lost while unlocking', {
        group: this.#o.group,
        error: (error as Error).message,
      });
    }
  }

  /** Leaves the group (this instance cannot do its share): ends the session and returns what it consumed, to hand over. */
  withdraw(): number[] {
    const consumed = this.owned;
    this.close();
    return consumed;
  }

  /** Ends the session: every lock this instance holds goes with it. */
  close(): void {
    const session = this.#session;
    this.#session = undefined;
    this.#held.clear();
    this.#releasing.clear();
    this.#consuming.clear();
    session?.release(true);
  }

  get #memberKey(): string {
    return `txbox members:${this.#o.schema}:${this.#o.group}`;
  }

  get #partitionKey(): string {
    return `txbox partitions:${this.#o.schema}:${this.#o.group}`;
  }

  /**
   * A new session: a member slot, then the partitions still consumed locked again. Those another
   * instance took meanwhile (it saw this one's locks vanish) are returned to be given up.
   */
  async #openSession(): Promise<number[]> {
    const previous = this.#session;
    this.#session = undefined;
    previous?.release(true);
    this.#held.clear();
    this.#releasing.clear();
    const { client, release } = await checkOutWithin(this.#o.pool, this.#o.leaseMs);
    const session = { client, release, lost: false };
    client.on('error', () => {
      session.lost = true;
    });
    try {
      // A live instance speaks every rebalanceIntervalMs; silence this long ends the session and its locks.
      await this.#query(client, `SET idle_session_timeout = ${Number(this.#o.leaseMs)}`).catch((error: unknown) => {
        if ((error as { code?: string }).code !== '42704') throw error;
        throw new ConfigurationError(
          'inbox.partitions',
          'partitioned consumption needs PostgreSQL 14 or later (idle_session_timeout ends the locks of a frozen instance)',
        );
      });
      const slot = await this.#query<{ slot: number }>(client, MEMBER_SLOT_SQL, [this.#memberKey, MAX_MEMBERS]);
      if (slot.rows.length === 0) throw new Error(`more than ${MAX_MEMBERS} instances of group ${this.#o.group}`);
      this.#slot = (slot.rows[0] as { slot: number }).slot;
      const consuming = [...this.#consuming];
      const relocked = await this.#query<{ p: number }>(client, TRY_LOCK_SQL, [
        this.#partitionKey,
        consuming,
        consuming.length,
      ]);
      for (const { p } of relocked.rows) this.#held.add(p);
    } catch (error) {
      release(true);
      throw error;
    }
    this.#session = session;
    if (previous) this.#graceUntil = Date.now() + this.#o.leaseMs;
    return [...this.#consuming].filter((p) => !this.#held.has(p));
  }

  /** Every statement on the session is bounded: a server that stopped answering must not hold rebalancing (or stop()). */
  #query<R extends pg.QueryResultRow>(client: pg.PoolClient, text: string, values: unknown[] = []) {
    return client.query<R>({ text, values, query_timeout: this.#o.leaseMs } as pg.QueryConfig);
  }
}

/**
 * The first free slot. pg_try_advisory_lock runs row by row under the LIMIT, so it locks exactly
 * one slot: the scan stops at the first that succeeds.
 */
const MEMBER_SLOT_SQL = `
SELECT s AS slot FROM generate_series(0, $2::int - 1) AS s
WHERE pg_try_advisory_lock(hashtext($1), s)
LIMIT 1`;

/** Locks up to $3 of the candidate partitions, in the given order (same row-by-row rule). */
const TRY_LOCK_SQL = `
SELECT p FROM unnest($2::int[]) AS p
WHERE pg_try_advisory_lock(hashtext($1), p)
LIMIT $3`;

/** Slots of the live members: granted member locks of this database (a two-key advisory lock has objsubid 2). */
const LIVE_MEMBERS_SQL = `
SELECT objid::int AS slot FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 2
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND classid = (hashtext($1)::bigint & 4294967295)::oid
ORDER BY objid`;

/** A pool client within `ms` (a pool whose server stopped answering would wait forever); a late one is discarded. */
async function checkOutWithin(pool: pg.Pool, ms: number): ReturnType<typeof checkOut> {
  const pending = checkOut(pool);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no PostgreSQL connection within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([pending, timeout]);
  } catch (error) {
    pending.then((late) => late.release(true)).catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
