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

/** Words of a task that name no resource: verbs, articles, the API's own vocabulary. */
const NOT_NOUNS = new Set(
  ('a an the to for of with and or in on by from into new add adds create creates build make implement write update ' +
    'api apis rest crud graphql endpoint endpoints route routes model models table tables schema migration migrations ' +
    'database db page pages list lists field fields column columns simple basic full support').split(' '),
);

/** A word's singular, the simple way (widgets → widget, categories → category, boxes → box). */
function singularOf(word: string): string {
  if (/[^aeiou]ies$/.test(word)) return `${word.slice(0, -3)}y`;
  if (/(s|sh|ch|x|z)es$/.test(word)) return word.slice(0, -2);
  if (/[^s]s$/.test(word)) return word.slice(0, -1);
  return word;
}

/**
 * The resource a task's description is about: a known noun (or its
 * plural); failing that, a capitalised word after the first (`Add a Widget
 * model`) or the word after `for`/`of` (`an API for widgets`); failing
 * that, `item`. Only the description is looked at: the rest of a worker's
 * prompt is full of words like task, user and model.
 *
 * @example
 * resourceOf('Add a Widget model with a name'); // { singular: 'widget', plural: 'widgets', model: 'Widget' }
 */
export function resourceOf(description: string): Resource {
  const known = nounIn(description);
  if (known !== undefined) return resource(known);
  const words = description.match(/[A-Za-z]+/g) ?? [];
  const named = words.slice(1).find((w) => /^[A-Z][a-z]{2,}$/.test(w) && !NOT_NOUNS.has(w.toLowerCase()));
  const after = /\b(?:for|of)\s+(?:the\s+|a\s+|an\s+)?([a-z]{3,})\b/i.exec(description)?.[1]?.toLowerCase();
  const word = named?.toLowerCase() ?? (after !== undefined && !NOT_NOUNS.has(after) ? after : undefined);
  return resource(word === undefined ? 'item' : singularOf(word));
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
