// The exit codes of `txbox`, one meaning each, so a deploy step or a cron job can branch on them.
import { isTxboxError } from '@txbox/core';

/** Exit codes of the `txbox` command (documented in the package README). */
export const EXIT_CODES = {
  /** The command did what it was asked. */
  ok: 0,
  /** It failed: a connection refused, a broker or database error, a replay that left messages behind. */
  failed: 1,
  /** The command line or an input is invalid (unknown command, bad id, limit out of range, missing URL). */
  usage: 2,
  /** Migrations are pending (or the schema is newer than this txbox): `status`, `migrate status`. */
  migrationsPending: 3,
  /** What was named does not exist: a dead letter, an inbox record, a queue. */
  notFound: 4,
  /** `contracts check` found changes that break consumers of a snapshotted version. */
  contractsBroken: 5,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** A command line txbox cannot run: shown with the usage of the command. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The exit code an error thrown by a command maps to. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof UsageError) return EXIT_CODES.usage;
  if (!isTxboxError(error)) return EXIT_CODES.failed;
  switch (error.code) {
    case 'CONFIGURATION_INVALID':
    case 'IDENTIFIER_INVALID':
      return EXIT_CODES.usage;
    case 'NOT_FOUND':
      return EXIT_CODES.notFound;
    case 'SCHEMA_NOT_MIGRATED':
    case 'SCHEMA_TOO_NEW':
      return EXIT_CODES.migrationsPending;
    default:
      return EXIT_CODES.failed;
  }
}
