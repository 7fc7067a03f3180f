// Brace sets of a glob pattern, expanded before the walk (see search.mjs).
// tinyglobby picks the folders it walks from each pattern's path parts, and a
// set whose members hold a `/` (`{package.json,src/app.js}`, what a model
// writes to ask about exact files) has no parts it can use: it walks the whole
// project. Each member as a pattern of its own is walked only where it leads.
// Plain JavaScript: it runs in the search thread and in the box's bundle.

/** At most this many patterns come out of one; past it the pattern is walked as it was. */
export const MAX_EXPANSIONS = 64;
/** Longer patterns are walked as they are: finding their sets would cost more than it saves. */
export const MAX_PATTERN_LENGTH = 4096;

/**
 * The first top-level `{…}` of `pattern` that holds a comma at its own level:
 * its bounds and members, or undefined.
 * @param {string} pattern
 * @returns {{ open: number, close: number, members: string[] } | undefined}
 */
function firstSet(pattern) {
  for (let open = pattern.indexOf('{'); open !== -1; open = pattern.indexOf('{', open + 1)) {
    let depth = 0;
    let from = open + 1;
    /** @type {string[]} */
    const members = [];
    for (let i = open; i < pattern.length; i++) {
      const c = pattern[i];
      if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        if (members.length === 0) break; // `{a}` or a range `{1..3}`: not a set, left to the matcher
        members.push(pattern.slice(from, i));
        return { open, close: i, members };
      } else if (c === ',' && depth === 1) {
        members.push(pattern.slice(from, i));
        from = i + 1;
      }
    }
  }
  return undefined;
}

/**
 * The patterns `pattern` stands for, its brace sets expanded (nested ones
 * too), or `[pattern]` when expanding would not keep its meaning or its
 * bounds: a pattern longer than MAX_PATTERN_LENGTH, one with an escape or a
 * character class (where a brace is not a set), more than MAX_EXPANSIONS
 * patterns (the work stops there, so `{a,b}{a,b}…` costs no more than
 * that), or a member that would read as something else on its own: empty,
 * absolute, a negation, a `..` part, or a `**` made of two stars that were
 * apart (`*{*,x}`).
 *
 * @example
 * expandBraces('{package.json,src/{app,db}.js}'); // ['package.json', 'src/app.js', 'src/db.js']
 * @param {string} pattern
 * @returns {string[]}
 */
export function expandBraces(pattern) {
  if (!pattern.includes('{') || /[\\[]/.test(pattern) || pattern.length > MAX_PATTERN_LENGTH) return [pattern];
  /** @type {string[]} */
  const out = [];
  let leaves = 0; // counted with repeats: `{a,a}{a,a}…` gives one pattern from many leaves
  /** @param {string} p @returns {boolean} false once past the limit */
  const expand = (p) => {
    const set = firstSet(p);
    if (set === undefined) {
      if (!out.includes(p)) out.push(p);
      return ++leaves <= MAX_EXPANSIONS;
    }
    const head = p.slice(0, set.open);
    const tail = p.slice(set.close + 1);
    return set.members.every((member) => expand(head + member + tail));
  };
  if (!expand(pattern)) return [pattern];
  const globstars = (p) => p.split('**').length;
  const plain = out.every(
    (p) => p !== '' && !p.startsWith('/') && !p.startsWith('!') && !p.split('/').includes('..') && globstars(p) <= globstars(pattern),
  );
  return plain ? out : [pattern];
}
