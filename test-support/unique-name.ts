import { randomBytes } from 'node:crypto';

const MAX_LENGTH = 40;
const SUFFIX_LENGTH = 8;

/**
 * `prefix` plus a random suffix, lowercase `[a-z0-9_]`, at most 40 characters and starting with a
 * letter: valid unquoted as a PostgreSQL schema/table name and as an AMQP exchange or queue name,
 * so test files running in parallel never share state.
 */
export function uniqueName(prefix = 'txbox_test'): string {
  let head = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  if (!/^[a-z]/.test(head)) head = `t${head}`;
  head = head.slice(0, MAX_LENGTH - SUFFIX_LENGTH - 1);
  let suffix = '';
  while (suffix.length < SUFFIX_LENGTH) {
    suffix += randomBytes(8)
      .toString('base64')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '');
  }
  return `${head}_${suffix.slice(0, SUFFIX_LENGTH)}`;
}
