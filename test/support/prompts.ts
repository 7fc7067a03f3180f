/**
 * The task id in a worker prompt: the `task_id` of its first fenced task
 * data (src/models/fence.ts), or undefined when the prompt has none.
 */
export function taskIdOfPrompt(prompt: string): string | undefined {
  const quoted = /<task-data>\n\{\n\s*"task_id": ("(?:[^"\\]|\\.)*")/.exec(prompt)?.[1];
  return quoted === undefined ? undefined : (JSON.parse(quoted) as string);
}
