// `txbox dashboard` refuses an unsafe or invalid command line before it serves anything (the
// pages and actions themselves: packages/dashboard/test/dashboard-browser.test.ts).
import { describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '../../../test-support/index.js';
import { txbox } from './run-txbox.js';

const env = { DATABASE_URL: testDatabaseUrl() };

describe('txbox dashboard command line', () => {
  it('documents its safe defaults', async () => {
    const help = await txbox(['dashboard', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('default: 127.0.0.1');
    expect(help.stdout).toContain('--actions');
  });

  it('refuses actions without a token, a short token, a token without actions, and a bad port (exit 2)', async () => {
    const actionsOnly = await txbox(['dashboard', '--actions'], env);
    expect(actionsOnly.code).toBe(2);
    expect(actionsOnly.stderr).toContain('--actions needs --token');
    const short = await txbox(['dashboard', '--actions', '--token', 'short'], env);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('at least 16 characters');
    expect((await txbox(['dashboard', '--token', 'a-long-enough-token-123'], env)).code).toBe(2);
    expect((await txbox(['dashboard', '--port', '70000'], env)).code).toBe(2);
    expect((await txbox(['dashboard', '--groups', 'billing'], { ...env, AMQP_URL: '' })).stderr).toContain(
      '--amqp-url',
    );
  });
});
