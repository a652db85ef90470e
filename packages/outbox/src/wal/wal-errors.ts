import { TxboxError } from '@txbox/core';

/** PostgreSQL does not decode logical changes: WAL mode needs the server setting `wal_level = logical`. */
export class WalLevelError extends TxboxError {
  readonly walLevel: string;
  constructor(walLevel: string) {
    super(
      'WAL_LEVEL_NOT_LOGICAL',
      `WAL mode needs the PostgreSQL setting wal_level = logical (it is "${walLevel}"). Set it ` +
        '(ALTER SYSTEM SET wal_level = logical, or rds.logical_replication = 1 on RDS and Aurora, ' +
        'cloudsql.logical_decoding = on on Cloud SQL, the wal_level server parameter on Azure) and restart PostgreSQL, ' +
        'or use the table mode.',
    );
    this.walLevel = walLevel;
  }
}

/** The relay's replication slot does not exist in this database. */
export class WalSlotMissingError extends TxboxError {
  readonly slot: string;
  constructor(slot: string, detail = 'does not exist in this database') {
    super(
      'WAL_SLOT_MISSING',
      `Replication slot "${slot}" ${detail}. Create it with createWalSlot() or ` +
        '`txbox-outbox wal-slot create` (before the first WAL-mode write: the slot only sees what is written after it).',
    );
    this.slot = slot;
  }
}

/** Another connection streams the slot (another relay instance, or a tool). */
export class WalSlotInUseError extends TxboxError {
  readonly slot: string;
  constructor(slot: string, options: { cause?: unknown } = {}) {
    super(
      'WAL_SLOT_IN_USE',
      `Replication slot "${slot}" is in use by another connection. A WAL relay waits as a standby until it is free; ` +
        'to drop the slot, stop every relay that streams it first.',
      { ...options, retryable: true },
    );
    this.slot = slot;
  }
}
