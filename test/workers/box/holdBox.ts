// A stand-in listener for lifetime.test.ts: starts a box over argv[2] whose
// view appears at argv[3], leaves a command running in it and a daemon that
// left its command's process group, says "ready", and waits to be killed.
import { startBox } from '../../../src/workers/box/index.ts';

const [lower, root] = process.argv.slice(2) as [string, string];
const box = await startBox({
  taskId: 'held',
  lower: [lower],
  root,
  limits: { processes: 64, memoryBytes: 1024 ** 3, cpuSeconds: 60, fileSizeBytes: 1024 ** 2, tmpBytes: 1024 ** 2, layerBytes: 1024 ** 2 },
  env: { PATH: '/usr/bin:/bin' },
  bashTimeoutMs: 600_000,
  maxOutputBytes: 4096,
});
const signal = new AbortController().signal;
await box.call('Bash', { command: 'setsid sleep 987654 </dev/null >/dev/null 2>&1 & echo daemon' }, signal);
void box.call('Bash', { command: 'sleep 876543' }, signal);
await box.call('Write', { file_path: 'half.txt', content: 'half' }, signal);
process.stdout.write('ready\n');
setInterval(() => undefined, 1000);
