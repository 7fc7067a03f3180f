/**
 * Nouns the scripted workers recognise as the task's resource, in order of
 * preference when several appear. Enough for the seed's examples and demos;
 * anything else is `item`.
 */
const NOUNS = [
  'user', 'post', 'comment', 'product', 'order', 'article', 'task', 'project', 'customer', 'invoice', 'payment',
  'category', 'tag', 'message', 'profile', 'book', 'event', 'team', 'review', 'note', 'account', 'role', 'item',
];

export interface Resource {
  /** `user` */
  singular: string;
  /** `users` */
  plural: string;
  /** `User` */
  model: string;
}

function pluralOf(word: string): string {
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  if (/(s|sh|ch|x|z)$/.test(word)) return `${word}es`;
  return `${word}s`;
}

function resource(singular: string): Resource {
  return { singular, plural: pluralOf(singular), model: singular.charAt(0).toUpperCase() + singular.slice(1) };
}

/**
 * The task's description in a worker or planner prompt: the `description`
 * of its first fenced task data (src/planning/fence.ts), else the line under
 * a `# Task` heading, else ''.
 *
 * @example
 * descriptionFromPrompt('<task-data>\n{"description":"Create a REST API for blog posts"}\n</task-data>'); // 'Create a REST API for blog posts'
 */
export function descriptionFromPrompt(prompt: string): string {
  const fenced = /<task-data>\n([\s\S]*?)\n<\/task-data>/.exec(prompt)?.[1];
  if (fenced !== undefined) {
    try {
      const data = JSON.parse(fenced) as { description?: unknown };
      if (typeof data.description === 'string') return data.description;
    } catch {
      // Not the task's data: fall through to the heading form.
    }
  }
  return /^#\s*Task\b[^\n]*\n([^\n]*)/.exec(prompt)?.[1] ?? '';
}

/**
 * The resource a prompt is about: the first known noun (or its plural) in
 * the task's description; failing that, in the prompt's first paragraph;
 * failing that, anywhere in the prompt; failing that, `item`.
 *
 * @example
 * resourceFromPrompt('# Task 1\nCreate a REST API for blog posts'); // { singular: 'post', plural: 'posts', model: 'Post' }
 */
export function resourceFromPrompt(prompt: string): Resource {
  // The worker prompt opens with a heading about the task: the word task there is not the resource.
  const body = prompt.replace(/^#\s*(The\s+)?Task\b[^\n]*\n?/i, '');
  const head = body.split(/\n\s*\n/)[0] ?? '';
  for (const text of [descriptionFromPrompt(prompt), head, body]) {
    const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
    const found = words.find((w) => NOUNS.includes(w) || NOUNS.some((n) => pluralOf(n) === w));
    if (found !== undefined) return resource(NOUNS.find((n) => n === found || pluralOf(n) === found)!);
  }
  return resource('item');
}
