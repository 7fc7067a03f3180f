import { taskIdOrSay, withClient, type ClientFlags } from './client.ts';

export async function runStatus(typed: string, o: ClientFlags): Promise<void> {
  await withClient(o, 'status', async ({ keys, redis }) => {
    const taskId = await taskIdOrSay(redis, keys, typed);
    if (taskId === undefined) return;
    const [record, logs] = await Promise.all([redis.hgetall(keys.result(taskId)), redis.lrange(keys.resultLogs(taskId), 0, -1)]);
    if (Object.keys(record).length === 0 && logs.length === 0) {
      process.stderr.write(`no record of task ${taskId} (${keys.result(taskId)} does not exist)\n`);
      process.exitCode = 1;
      return;
    }
    const { output, ...fields } = record;
    process.stdout.write(`${JSON.stringify({ ...fields, output: output ? JSON.parse(output) : undefined, logs }, null, 2)}\n`);
  });
}
