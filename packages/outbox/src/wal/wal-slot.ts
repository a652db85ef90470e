// Create, drop and inspect the replication slot (and the empty publication pgoutput needs) of
// WAL mode. A slot keeps every WAL segment its reader has not confirmed: one nobody reads
// fills the disk. Tests and operators drop what they create (dropWalSlot, or the CLI).
import { ConfigurationError, type DatabaseInput } from '@txbox/core';
import { withDedicatedClient } from '@txbox/core/internal';
import type pg from 'pg';
import {
  createPublicationSql,
  createSlotSql,
  dropPublicationSql,
  dropSlotSql,
  publicationExistsSql,
  slotStateSql,
} from '../sql/wal-sql.js';
import { WalLevelError, WalSlotInUseError, WalSlotMissingError } from './wal-errors.js';

export interface WalSlotOptions {
  database: DatabaseInput;
  /** Schema of the outbox tables. @defaultValue `'txbox'` */
  schema?: string;
  /** Replication slot name (lowercase letters, digits, `_`; at most 63). @defaultValue `txbox_<schema>` */
  slot?: string;
}

/** The slot name and the (quoted) publication of the same name. */
export interface WalSlotNames {
  slot: string;
  publication: string;
}

/** Slot names are [a-z0-9_]{1,63} (PostgreSQL's rule); the publication takes the same name. */
export function walSlotNames(options: { schema?: string; slot?: string | undefined }): WalSlotNames {
  const slot = options.slot ?? `txbox_${(options.schema ?? 'txbox').toLowerCase()}`;
  if (!/^[a-z0-9_]{1,63}$/.test(slot)) {
    throw new ConfigurationError(
      'slot',
      `"${slot}" is not a valid replication slot name: use a-z, 0-9 and _, at most 63`,
    );
  }
  return { slot, publication: slot };
}

export interface SlotState {
  active: boolean;
  confirmedFlushLsn: string;
  lagBytes: number;
  walStatus: string | null;
}

/** Throws WalLevelError unless the server decodes logical changes. */
export async function assertWalLevel(client: Pick<pg.ClientBase, 'query'>): Promise<void> {
  const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
  const level = rows[0]?.wal_level ?? 'unknown';
  if (level !== 'logical') throw new WalLevelError(level);
}

/** The slot's state, or WalSlotMissingError (also for a slot of another kind under that name). */
export async function readSlotState(client: Pick<pg.ClientBase, 'query'>, slot: string): Promise<SlotState> {
  const { rows } = await client.query(slotStateSql(), [slot]);
  const row = rows[0];
  if (!row) throw new WalSlotMissingError(slot);
  if (row.slot_type !== 'logical' || row.plugin !== 'pgoutput') {
    throw new WalSlotMissingError(
      slot,
      `is a ${row.slot_type} slot of plugin ${row.plugin}, not a pgoutput logical slot`,
    );
  }
  if (row.wal_status === 'lost') {
    throw new WalSlotMissingError(slot, 'lost WAL it had not read (max_slot_wal_keep_size); drop and create it again');
  }
  return {
    active: row.active,
    confirmedFlushLsn: row.confirmed_flush_lsn,
    lagBytes: Math.max(0, Number(row.lag_bytes ?? 0)),
    walStatus: row.wal_status,
  };
}

/**
 * Creates the slot and its publication if missing (idempotent). Run it once before the first
 * WAL-mode write: the slot sees only what commits after it exists.
 * @returns true if it created the slot, false if it was there.
 */
export async function createWalSlot(options: WalSlotOptions): Promise<boolean> {
  const names = walSlotNames(options);
  return withDedicatedClient(options.database, async (client) => {
    await assertWalLevel(client);
    if ((await client.query(publicationExistsSql(), [names.publication])).rowCount === 0) {
      await client.query(createPublicationSql(`"${names.publication}"`)).catch((error: { code?: string }) => {
        if (error.code !== '42710') throw error; // created meanwhile by another instance
      });
    }
    try {
      await readSlotState(client, names.slot);
      return false;
    } catch (error) {
      if (!(error instanceof WalSlotMissingError)) throw error;
    }
    try {
      await client.query(createSlotSql(), [names.slot]);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === '42710') return false; // created meanwhile
      throw error;
    }
  });
}

/**
 * Drops the slot and its publication (idempotent). Refuses with WalSlotInUseError while a
 * relay streams it: stop the relays first.
 * @returns true if it dropped the slot.
 */
export async function dropWalSlot(options: WalSlotOptions): Promise<boolean> {
  const names = walSlotNames(options);
  return withDedicatedClient(options.database, async (client) => {
    let dropped = true;
    try {
      await client.query(dropSlotSql(), [names.slot]);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '55006') throw new WalSlotInUseError(names.slot, { cause: error });
      if (code !== '42704') throw error;
      dropped = false;
    }
    await client.query(dropPublicationSql(`"${names.publication}"`));
    return dropped;
  });
}
