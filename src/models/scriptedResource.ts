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
 * of its first fenced task data (src/models/fence.ts), else the line under
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
 * the task's description (`description`, when the caller has it already);
 * failing that, in the prompt's first paragraph; failing that, anywhere in
 * the prompt; failing that, `item`.
 *
 * @example
 * resourceFromPrompt('# Task 1\nCreate a REST API for blog posts'); // { singular: 'post', plural: 'posts', model: 'Post' }
 */
export function resourceFromPrompt(prompt: string, description = descriptionFromPrompt(prompt)): Resource {
  const named = nounIn(description);
  if (named !== undefined) return resource(named);
  // The worker prompt opens with a heading about the task: the word task there is not the resource.
  const body = prompt.replace(/^#\s*(The\s+)?Task\b[^\n]*\n?/i, '');
  const head = body.split(/\n\s*\n/, 1)[0] ?? '';
  return resource(nounIn(head) ?? nounIn(body) ?? 'item');
}

/** Each noun and its plural → the noun; a word two nouns share goes to the first in NOUNS. */
const NOUN_OF_WORD = new Map<string, string>();
for (const noun of NOUNS) {
  for (const word of [noun, pluralOf(noun)]) if (!NOUN_OF_WORD.has(word)) NOUN_OF_WORD.set(word, noun);
}

/** The noun of the first word of `text` that is a known noun or its plural. */
function nounIn(text: string): string | undefined {
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    const noun = NOUN_OF_WORD.get(word);
    if (noun !== undefined) return noun;
  }
  return undefined;
}
