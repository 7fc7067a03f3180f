// One thread of the pool in pool.ts: takes one job at a time from the main
// thread, runs it and posts the answer back. What a job walks or matches
// never touches the listener's event loop. Plain JavaScript: a worker thread
// does not inherit the TypeScript loader.
import { parentPort } from 'node:worker_threads';
import { diff, snapshot, survey } from './walk.mjs';

/** Glob and Grep bring tinyglobby: loaded by the first search, not by a thread that only walks. */
let search;
const searchOps = () => (search ??= import('./search.mjs'));

const OPS = {
  snapshot,
  diff,
  survey,
  glob: async (job) => (await searchOps()).globOp(job),
  grep: async (job) => (await searchOps()).grepOp(job),
};

parentPort.on('message', async ({ id, job }) => {
  try {
    const op = OPS[job.op];
    if (op === undefined) throw new Error(`unknown job ${job.op}`);
    const { result, transfer } = await op(job);
    parentPort.postMessage({ id, ok: true, result }, transfer);
  } catch (error) {
    parentPort.postMessage({ id, ok: false, message: error instanceof Error ? error.message : String(error) });
  }
});
