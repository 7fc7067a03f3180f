import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { spawnOrchestrator } from '../support/process.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

describe('OTLP export from a real start process', () => {
  it('sends the task trace to the endpoint OTEL_EXPORTER_OTLP_ENDPOINT names, under OTEL_SERVICE_NAME', async () => {
    const bodies: { path: string; body: Buffer }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const { domain, keys } = freshDomain();
    const proc = spawnOrchestrator(
      ['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-otel`, '--workspace', mkdtempSync(join(tmpdir(), 'orch-otel-'))],
      { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'orch-under-test', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
    );
    const redis = client();
    try {
      await proc.ready;
      expect(proc.output()).toContain('OpenTelemetry traces on');
      const m = buildTaskMessage({ description: 'Create user registration endpoint' }, domain);
      await sendTask(redis, keys, m);
      await eventually(async () => ((await redis.hget(keys.result(m.task_id), 'status')) === 'completed' ? true : undefined), 20_000, 'the result');
      // SIGTERM: the batch still waiting is sent on the way out.
      await proc.kill('SIGTERM');
      const sent = bodies.filter((b) => b.path === '/v1/traces').map((b) => b.body.toString('utf8'));
      expect(sent.length).toBeGreaterThan(0);
      const all = sent.join('\n');
      expect(all).toContain('orch-under-test');
      expect(all).toContain(m.task_id);
      expect(all).toContain('gen_ai.usage.input_tokens');
    } finally {
      await proc.kill();
      redis.disconnect();
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  }, 60_000);
});
