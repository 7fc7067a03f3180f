// Brace sets of a glob pattern, expanded before the walk (see search.mjs).
// tinyglobby picks the folders it walks from each pattern's path parts, and a
// set whose members hold a `/` (`{package.json,src/app.js}`, what a model
// writes to ask about exact files) has no parts it can use: it walks the whole
// project. Each member as a pattern of its own is walked only where it leads.
// The expansion is brace-expansion's (minimatch's, bounded against hostile
// input); what is ours is when not to use it. Plain JavaScript: it runs in the
// search thread and in the box's bundle.
import { expand } from 'brace-expansion';

/** At most this many patterns come out of one; past it the pattern is walked as it was. */
export const MAX_EXPANSIONS = 64;
/** Longer patterns are walked as they are: expanding them would cost more than it saves. */
export const MAX_PATTERN_LENGTH = 4096;
/** brace-expansion's work budget for one pattern (its default, 20,000,000, is for any input). */
const MAX_STEPS = 1_000_000;

/**
 * The patterns `pattern` stands for, its brace sets expanded (nested ones
 * and ranges too), or `[pattern]` when expanding would not keep its meaning
 * or its bounds: a pattern longer than MAX_PATTERN_LENGTH, one with an
 * escape or a character class (where a brace is not a set, and which
 * brace-expansion would unescape or split), more than MAX_EXPANSIONS
 * patterns, or a member that would read as something else on its own:
 * empty, absolute, a negation, a `..` part, or a `**` made of two stars
 * that were apart (`*{*,x}`).
 *
 * @example
 * expandBraces('{package.json,src/{app,db}.js}'); // ['package.json', 'src/app.js', 'src/db.js']
 * @param {string} pattern
 * @returns {string[]}
 */
export function expandBraces(pattern) {
  if (!pattern.includes('{') || /[\\[]/.test(pattern) || pattern.length > MAX_PATTERN_LENGTH) return [pattern];
  const all = expand(pattern, { max: MAX_EXPANSIONS + 1, maxSteps: MAX_STEPS });
  if (all.length > MAX_EXPANSIONS) return [pattern];
  const out = [...new Set(all)];
  const globstars = (/** @type {string} */ p) => p.split('**').length;
  const plain = out.length > 0 && out.every(
    (p) => p !== '' && !p.startsWith('/') && !p.startsWith('!') && !p.split('/').includes('..') && globstars(p) <= globstars(pattern),
  );
  return plain ? out : [pattern];
}
