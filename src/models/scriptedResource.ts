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
 * The resource a prompt is about: the first known noun (or its plural) in
 * the prompt's first paragraph, where the task's description is; failing
 * that, anywhere in the prompt; failing that, `item`.
 *
 * @example
 * resourceFromPrompt('# Task 1\nCreate a REST API for blog posts'); // { singular: 'post', plural: 'posts', model: 'Post' }
 */
export function resourceFromPrompt(prompt: string): Resource {
  // The worker prompt opens with a `# Task <id>` heading: the word Task there is not the resource.
  const body = prompt.replace(/^#\s*Task\b[^\n]*\n?/, '');
  const head = body.split(/\n\s*\n/)[0] ?? '';
  for (const text of [head, body]) {
    const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
    const found = words.find((w) => NOUNS.includes(w) || NOUNS.some((n) => pluralOf(n) === w));
    if (found !== undefined) return resource(NOUNS.find((n) => n === found || pluralOf(n) === found)!);
  }
  return resource('item');
}
