import { z } from 'zod';
import { TOOL_NAMES } from '../tools/tool.ts';

// The wire between the listener and the tool server inside a task box: one
// JSON object per line each way. The listener writes requests and checks
// every answer with these schemas (the box runs model-written commands: a
// command that took the server over can send anything); the server trusts
// its requests. Paths are workspace-relative, posix.

/**
 * Bytes of a file one `read` answer carries (base64 makes it a third longer
 * on the wire); a larger file comes in several, asked for by offset, so no
 * line is long and no JSON.parse holds the event loop for long.
 */
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** Longest line the listener takes from a box; a longer one is a broken or hostile box, which is closed. */
export const MAX_LINE_BYTES = Math.ceil((READ_CHUNK_BYTES * 4) / 3) + 1024 * 1024;

/** Longest path either side accepts (PATH_MAX). */
const MAX_PATH = 4096;

/**
 * A workspace-relative posix path that stays inside: no absolute path, no
 * `.`, `..` or empty component, no NUL. What a hostile box could send to
 * lead a commit or a change log outside is refused here.
 */
export const relativePath = z
  .string()
  .min(1)
  .max(MAX_PATH)
  .refine((p) => !p.includes('\0') && !p.startsWith('/') && p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), {
    message: 'not a workspace-relative path inside the workspace',
  });

export const layerEntry = z.object({ path: relativePath, kind: z.enum(['file', 'symlink', 'dir', 'deleted', 'other']) });

/** A BoxFile on the wire: its content as base64. */
export const wireFile = z.object({
  path: relativePath,
  kind: z.enum(['file', 'symlink', 'absent', 'other']),
  executable: z.boolean().optional(),
  content: z.string().optional(),
  target: z.string().max(MAX_PATH).optional(),
  /** `read` of a file: its whole size, where `content` starts, and what it was (a part of another version is refused). */
  size: z.number().int().min(0).optional(),
  offset: z.number().int().min(0).optional(),
  version: z.string().max(200).optional(),
});
export type WireFile = z.infer<typeof wireFile>;

export const boxChange = z.object({ path: relativePath, change: z.enum(['created', 'modified', 'deleted']) });

export const callResult = z.object({ text: z.string(), isError: z.boolean(), changed: z.array(boxChange) });

const list = z.array(z.string().max(MAX_PATH));
export const surveyResult = z.object({
  root: z.string().max(MAX_PATH),
  exists: z.boolean(),
  fileCount: z.number().int().min(0),
  truncated: z.boolean(),
  topLevel: list,
  models: list,
  routes: list,
  middleware: list,
  migrations: list,
  auth: list,
  packageJson: z.object({ name: z.string().optional(), dependencies: list, devDependencies: list }).optional(),
});

/** What the listener asks; `id` pairs each answer with its request. */
export type Request =
  | { id: number; op: 'call'; tool: (typeof TOOL_NAMES)[number]; input: unknown }
  | { id: number; op: 'cancel'; target: number }
  | { id: number; op: 'layer' }
  | { id: number; op: 'read'; path: string; offset?: number }
  | { id: number; op: 'write'; file: WireFile }
  | { id: number; op: 'survey' }
  | { id: number; op: 'run'; command: string; timeoutMs: number };

/** Output of a `run` the box keeps (its tail); the check trims it further for the output. */
export const RUN_OUTPUT_BYTES = 64 * 1024;

/** A `run`: a command to its end, in the box with its limits (the project's checks). */
export const runResult = z.object({
  output: z.string().max(RUN_OUTPUT_BYTES * 4 + 1024),
  exitCode: z.number().int().nullable(),
  timedOut: z.boolean(),
  durationMs: z.number().min(0),
});

/** Every answer: the result of its op, or the error text. The server's `ready` line has id 0. */
export const response = z.union([
  z.object({ id: z.number().int().min(0), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number().int().min(0), ok: z.literal(false), error: z.string().max(64 * 1024) }),
]);
export type Response = z.infer<typeof response>;

/** What the server is started with (its argv[2], JSON): where things are inside the box. */
export interface ServerConfig {
  /** The view: the workspace root the tools work in. */
  root: string;
  /** The task's layer (the overlay's upper folder), read-only. */
  layer: string;
  /** The lower layers alone (a read-only overlay): what the view held before the task wrote anything. */
  base: string;
  env: Record<string, string>;
  limits: { processes: number; memoryBytes: number; cpuSeconds: number; fileSizeBytes: number; tmpBytes: number };
  layerBytes: number;
  bashTimeoutMs: number;
  maxOutputBytes: number;
  /** The egress proxy's socket inside the box, when there is one. */
  proxySocket?: string;
}
