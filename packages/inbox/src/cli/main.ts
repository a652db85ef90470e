#!/usr/bin/env node
// The txbox-inbox command, for teams that apply the inbox schema from a shell or a deploy step
// rather than from the application. The command itself is core's migration CLI, shared with the
// outbox; only the migration set is the inbox's.
import { runMigrationCli } from '@txbox/core/internal';
import { inboxMigrations } from '../migrations/inbox-migrations.js';

runMigrationCli(inboxMigrations, process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
