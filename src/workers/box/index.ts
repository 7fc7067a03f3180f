/**
 * The task box: one sandbox per task over a copy-on-write view of the
 * project, in which every tool of every worker of the task runs (see
 * docs/security.md, "Task boxes"). The project side (src/project/) builds
 * its lower layers and turns its layer into commits through `TaskBox`.
 *
 * @example
 * const why = await probeBox(); // undefined: boxes work here
 * const box = await startBox({ taskId, lower: [layerDir], root: '/work/task', limits, env, bashTimeoutMs, maxOutputBytes });
 * const result = await box.call('Read', { file_path: 'package.json' }, signal);
 * const changed = await box.layer();
 * await box.close();
 */
export { describeBoxHost, startBox } from './start.ts';
export { probeBox } from './probe.ts';
export { BoxFailedError, BoxOperationError, BoxUnavailableError } from './errors.ts';
export type { BoxCallResult, BoxChange, BoxFile, BoxLimits, BoxOptions, LayerEntry, StartBox, TaskBox } from './types.ts';
