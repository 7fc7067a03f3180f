import type { TestProject } from 'vitest/node';
import { startLocalRedis } from '../../src/redis/localServer.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** One real redis-server for the whole run; tests isolate themselves by key names. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startLocalRedis();
  project.provide('redisUrl', redis.url);
  return () => redis.stop();
}
