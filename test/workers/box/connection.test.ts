import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BoxConnection } from '../../../src/workers/box/connection.ts';
import { BoxFailedError } from '../../../src/workers/box/errors.ts';
import { callResult, MAX_LINE_BYTES } from '../../../src/workers/box/protocol.ts';

// The listener's end of the pipe treats the box as hostile: a command may
// take the tool server over and send anything. These "servers" are real
// processes that say ready, then answer every request with `reply`.

function hostileBox(reply: string) {
  const script = `process.stdout.write(JSON.stringify({ id: 0, ok: true, result: 'ready' }) + '\\n');
    require('readline').createInterface({ input: process.stdin }).on('line', (line) => { const { id } = JSON.parse(line); ${reply} });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  const broken: BoxFailedError[] = [];
  const connection = new BoxConnection(child, (error) => {
    broken.push(error);
    child.kill('SIGKILL');
  });
  onTestFinished(() => void child.kill('SIGKILL'));
  return { connection, broken, child };
}

const ask = { op: 'call', tool: 'Read', input: { file_path: 'a' } } as const;

describe('the listener’s end of a box’s pipe', () => {
  it('closes a box that sends a line longer than the protocol allows, without holding it', async () => {
    const { connection, broken } = hostileBox(`const chunk = 'x'.repeat(1 << 20); for (let i = 0; i < ${Math.ceil(MAX_LINE_BYTES / 2 ** 20) + 8}; i++) process.stdout.write(chunk);`);
    await connection.whenReady();
    await expect(connection.request(ask, callResult)).rejects.toThrow(new RegExp(`over ${MAX_LINE_BYTES} bytes`));
    expect(broken).toHaveLength(1);
    await expect(connection.request(ask, callResult)).rejects.toBeInstanceOf(BoxFailedError);
  }, 30_000);

  it('closes a box whose answer breaks the schema, or names a path outside the workspace', async () => {
    for (const result of [{ text: 1 }, { text: 'ok', isError: false, changed: [{ path: '../../etc/passwd', change: 'created' }] }, { text: 'ok', isError: false, changed: [{ path: '/etc/passwd', change: 'modified' }] }]) {
      const { connection, broken } = hostileBox(`process.stdout.write(JSON.stringify({ id, ok: true, result: ${JSON.stringify(result)} }) + '\\n');`);
      await connection.whenReady();
      await expect(connection.request(ask, callResult)).rejects.toThrow(/protocol does not allow/);
      expect(broken).toHaveLength(1);
    }
  }, 30_000);

  it('closes a box that sends what is not JSON, and fails every pending call when the box dies', async () => {
    const junk = hostileBox(`process.stdout.write('not json\\n');`);
    await junk.connection.whenReady();
    await expect(junk.connection.request(ask, callResult)).rejects.toThrow(/not an answer/);
    const dying = hostileBox(`process.exit(3);`);
    await dying.connection.whenReady();
    await expect(dying.connection.request(ask, callResult)).rejects.toThrow(/stopped \(exit code 3\)/);
  }, 30_000);

  it('takes a well-formed answer', async () => {
    const { connection, broken } = hostileBox(`process.stdout.write(JSON.stringify({ id, ok: true, result: { text: 'fine', isError: false, changed: [{ path: 'src/a.ts', change: 'created' }] } }) + '\\n');`);
    await connection.whenReady();
    expect(await connection.request(ask, callResult)).toEqual({ text: 'fine', isError: false, changed: [{ path: 'src/a.ts', change: 'created' }] });
    expect(broken).toEqual([]);
  }, 30_000);
});
