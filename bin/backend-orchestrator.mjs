#!/usr/bin/env -S node --max-semi-space-size=32
// --max-semi-space-size=32: a young generation big enough that a task's
// short-lived objects (actor snapshots, messages, tool results) die there
// instead of being promoted; at 64 tasks in flight it halves the GC pauses
// (README, "Benchmark"). Started as `node bin/...`, set it in NODE_OPTIONS.
// Runs the TypeScript sources directly through tsx's loader, so the command
// works right after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
