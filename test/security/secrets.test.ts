import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { createLogger } from '../../src/logger.ts';
import { keysFor } from '../../src/protocol/keys.ts';
import { listenerAclRules } from '../../src/redis/acl.ts';
import { connectRedis } from '../../src/redis/connection.ts';
import { createScrubber, ownSecrets } from '../../src/secrets.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';
import { runEscape, SECRET_KEY } from './harness.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, text: () => lines.join('') };
}

function withPassword(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

describe('secrets never leave', () => {
  it('a secret a worker echoes into its summary is published scrubbed', async () => {
    const leak = `found ${SECRET_KEY} and redis://default:hunter2-secret@redis:6379 in the environment`;
    const run = await runEscape({ 'db-worker': { turns: [], summary: leak } });
    const published = JSON.stringify(run.output);
    expect(run.status).toBe('completed');
    expect(published).not.toContain(SECRET_KEY);
    expect(published).not.toContain('hunter2-secret');
    expect(run.output.details['db-worker']?.summary).toBe('found [redacted] and redis://default:[redacted]@redis:6379 in the environment');
    const redis = client();
    try {
      const logs = await redis.lrange(`results:${run.output.task_id}:logs`, 0, -1);
      expect(logs.join('\n')).not.toContain(SECRET_KEY);
    } finally {
      await redis.quit();
    }
  }, 90_000);

  it('a wrong Redis password is not logged, not even in ioredis command.args on every retry', async () => {
    const admin = client();
    const user = `orch-${randomUUID().slice(0, 8)}`;
    const wrong = `wrong-${randomUUID()}`;
    await admin.call('ACL', 'SETUSER', user, 'on', `>right-${randomUUID()}`, '~*', '+@all');
    const url = withPassword(redisUrl(), user, wrong);
    const out = capture();
    const logger = createLogger('info', { pretty: false, destination: out.stream, secrets: ownSecrets({ redisUrl: url, anthropic: {} }) });
    const raw: unknown[] = [];
    const conn = connectRedis(url, 'wrong-password');
    conn.on('error', (err: Error) => {
      raw.push(pino.stdSerializers.err(err));
      logger.warn({ err, redisUrl: url }, 'redis connection error');
    });
    try {
      await eventually(async () => (raw.length >= 2 ? true : undefined), 15_000, 'two failed connection attempts');
    } finally {
      conn.disconnect();
      await admin.call('ACL', 'DELUSER', user);
      await admin.quit();
    }
    // Unredacted, ioredis' error does carry the password: the logger is what keeps it out.
    expect(JSON.stringify(raw)).toContain(wrong);
    expect(out.text()).toMatch(/redis connection error/);
    expect(out.text()).not.toContain(wrong);
    expect(out.text()).toContain('[redacted]');
  }, 30_000);

  it('scrubs URL passwords and Anthropic keys it was not told about, and the values it was', () => {
    const scrub = createScrubber(['my-own-secret-value']);
    expect(scrub('rediss://u:p4ss@h:1 sk-ant-api03-abcdefghijkl my-own-secret-value')).toBe('rediss://u:[redacted]@h:1 [redacted] [redacted]');
  });

  it('skips the patterns on text that lacks their literal, with the same result as running them everywhere', () => {
    const scrub = createScrubber(['my-own-secret-value']);
    const full = (text: string): string =>
      text
        .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)([^\s@/]+)@/gi, '$1[redacted]@')
        .replace(/\bsk-ant-[A-Za-z0-9_-]{8,}/g, '[redacted]')
        .split('my-own-secret-value')
        .join('[redacted]');
    const pieces = ['HTTPS://Admin:PW@host', 'postgres://u:p@db/x', ':/', '//', 'sk-ant-', 'SK-ANT-abcdefghij', 'sk-ant-abcdefghij', 'my-own-secret-value', ' ', '@', ':', 'a', '\n'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 3000; i++) {
      const text = Array.from({ length: 1 + (next() % 8) }, () => pieces[next() % pieces.length]).join('');
      expect(scrub(text)).toBe(full(text));
    }
    expect(scrub('HTTP://Admin:PW@host')).toBe('HTTP://Admin:[redacted]@host');
    const prose = 'no url and no key here, a:b@c and sk-ant';
    expect(scrub(prose)).toBe(prose);
  });
});

describe('a least-privileged Redis user', () => {
  it('runs a listener end to end with only the keys and commands listenerAclRules grants', async () => {
    const admin = client();
    const { domain } = freshDomain();
    const keys = keysFor(domain);
    const user = `orch-${randomUUID().slice(0, 8)}`;
    const password = `pw-${randomUUID()}`;
    await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, ...listenerAclRules(keys));
    const url = withPassword(redisUrl(), user, password);
    // With the shared model gate on: its leases (a sorted set), spend and releases channel are the listener's too.
    const { orchestrator, config } = await startTestOrchestrator({ redisUrl: url, domain, maxModelCalls: 2 });
    const limited = client(url);
    try {
      const m = buildTaskMessage({ description: 'Create user registration endpoint' }, domain);
      await sendTask(admin, keys, m);
      const record = await eventually(async () => {
        const r = await admin.hgetall(keys.result(m.task_id));
        return r.status === 'completed' || r.status === 'failed' ? r : undefined;
      }, 30_000, 'the result');
      expect(record.status).toBe('completed');
      expect(JSON.parse(record.output ?? '{}').files_created.length).toBeGreaterThan(0);
      expect(await admin.exists(keys.agentHeartbeat(config.agentId))).toBe(1);
      expect(await admin.sismember(keys.agentsOfDomain, config.agentId)).toBe(1);
      // What the user cannot do: other domains' queues, server administration, arbitrary keys.
      await expect(limited.lpush('tasks:pending:frontend', 'x')).rejects.toThrow(/NOPERM/);
      await expect(limited.get('some:other:key')).rejects.toThrow(/NOPERM/);
      await expect(limited.call('CONFIG', 'GET', 'dir')).rejects.toThrow(/NOPERM/);
      await expect(limited.call('FLUSHALL')).rejects.toThrow(/NOPERM/);
    } finally {
      await orchestrator.stop();
      limited.disconnect();
      await admin.call('ACL', 'DELUSER', user);
      await admin.quit();
    }
  }, 60_000);
});
