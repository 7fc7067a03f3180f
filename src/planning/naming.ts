/**
 * Just enough English to name a model and its routes from a resource phrase
 * ("blog posts" → model `Post`, routes `/api/posts`). Irregular plurals are
 * rare in resource names; the worker is told to follow the project's naming
 * when it differs.
 */

export function singular(word: string): string {
  if (/[^aeiou]ies$/i.test(word)) return `${word.slice(0, -3)}y`;
  if (/(ss|sh|ch|x|z)es$/i.test(word)) return word.slice(0, -2);
  if (/[^s]s$/i.test(word)) return word.slice(0, -1);
  return word;
}

export function plural(word: string): string {
  if (/[^s]s$/i.test(word)) return word;
  if (/[^aeiou]y$/i.test(word)) return `${word.slice(0, -1)}ies`;
  if (/(s|sh|ch|x|z)$/i.test(word)) return `${word}es`;
  return `${word}s`;
}

export function pascal(word: string): string {
  return word
    .split(/[^\p{L}\p{N}]+/u)
    .filter((part) => part !== '')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
    .join('');
}

/** The naming of one resource: `{ model: 'Post', collection: 'posts' }` for "blog posts". */
export function resourceNames(phrase: string): { model: string; collection: string } {
  const head = phrase.trim().split(/\s+/).at(-1) ?? phrase;
  const one = singular(head.toLowerCase());
  return { model: pascal(one), collection: plural(one).toLowerCase() };
}
