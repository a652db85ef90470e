import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineMessage } from '@txbox/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runChild, uniqueName, useAmqp, useTestSchema } from '../../../test-support/index.js';

// Proves the shared test helpers against the real services, so a failure elsewhere is not theirs.

const database = useTestSchema('core_services');
const broker = useAmqp();

describe('test services', () => {
  it('a unique name is a lowercase identifier of at most 40 characters, different every time', () => {
    const names = new Set(Array.from({ length: 100 }, () => uniqueName('Some-Prefix.that is rather long indeed')));
    expect(names.size).toBe(100);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9_]{0,39}$/);
  });

  it('PostgreSQL is reachable and the test schema can be created and used', async () => {
    await database.pool.query(`CREATE SCHEMA "${database.schema}"`);
    await database.pool.query(`CREATE TABLE "${database.schema}".probe (id int primary key)`);
    await database.pool.query(`INSERT INTO "${database.schema}".probe VALUES (1), (2)`);
    const { rows } = await database.pool.query(`SELECT count(*)::int AS n FROM "${database.schema}".probe`);
    expect(rows[0].n).toBe(2);
  });

  it('a message published to an exchange reaches a bound collector', async () => {
    const exchange = uniqueName('core_services');
    const collector = await broker.bindCollector(exchange, 'probe.*');
    broker.channel.publish(exchange, 'probe.sent', Buffer.from('hello'), { messageId: 'm-1' });
    broker.channel.publish(exchange, 'other.sent', Buffer.from('not routed'));
    const [message] = await collector.waitFor(1);
    expect(message?.content.toString()).toBe('hello');
    expect(message?.properties.messageId).toBe('m-1');
    await expect(collector.waitFor(2, 300)).rejects.toThrow(/expected 2 message\(s\).*but 1 arrived/);
  });

  it('a child process can be awaited on a printed line and killed with SIGKILL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'txbox-child-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'probe.mjs');
    writeFileSync(
      script,
      `console.log('ready ' + process.argv[2] + ' ' + process.env.PROBE); setInterval(() => {}, 1000);`,
    );
    const running = runChild(script, ['arg'], { PROBE: 'value' });
    expect(await running.waitForLine(/^ready arg value$/, 10_000)).toBe('ready arg value');
    expect(await running.kill('SIGKILL')).toBeNull();
    expect(running.child.signalCode).toBe('SIGKILL');
  });

  it('the built @txbox/core resolves through the workspace', () => {
    expect(typeof defineMessage).toBe('function');
  });
});
