import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { expandBraces, MAX_EXPANSIONS } from '../../src/workers/threads/braces.mjs';

describe('expandBraces: brace sets as patterns of their own, so the Glob walk goes only where each leads', () => {
  it('expands sets, nested sets and sets after a folder, without repeats', () => {
    expect(expandBraces('{package.json,src/app.js,src/models/user.js}')).toEqual(['package.json', 'src/app.js', 'src/models/user.js']);
    expect(expandBraces('{package.json,src/{app,db}.js}')).toEqual(['package.json', 'src/app.js', 'src/db.js']);
    expect(expandBraces('src/**/*.{js,ts}')).toEqual(['src/**/*.js', 'src/**/*.ts']);
    expect(expandBraces('{a,a}/x')).toEqual(['a/x']);
    expect(expandBraces('**/*.js')).toEqual(['**/*.js']);
  });

  it('matches the same paths as the pattern it came from', () => {
    const paths = ['package.json', 'src/app.js', 'src/db.js', 'src/db.ts', 'src/models/user.js', 'lib/0/m4.js', 'test/a.test.js', 'src/x/y.ts', 'm1.js', 'm3.js', 'm4.js', 'a'];
    for (const pattern of ['{package.json,src/{app,db}.js}', 'src/**/*.{js,ts}', '{src,test}/*.js', '{lib/*/m4,src/app}.js', 'src/{models/,}*.js', 'm{1..3}.js', '{,a}']) {
      const one = picomatch(pattern, { dot: true });
      const each = picomatch(expandBraces(pattern), { dot: true });
      expect(paths.filter((p) => each(p)), pattern).toEqual(paths.filter((p) => one(p)));
    }
  });

  it('leaves alone what is not a set (a single member, an escape, a class, an unclosed brace)', () => {
    for (const pattern of ['{a}.js', 'a\\{b,c\\}.js', '[{]a,b}.js', '{unclosed,a.js']) expect(expandBraces(pattern)).toEqual([pattern]);
  });

  it('walks as written a member that would mean something else alone: empty, absolute, a negation, .., or a new **', () => {
    for (const pattern of ['{,}', '{/etc/passwd,a}', '{!x,y}', '{..,a}/secret.js', 'a/{..,b}/c', '*{*,x}/y']) {
      expect(expandBraces(pattern), pattern).toEqual([pattern]);
    }
  });

  it(`stops at ${MAX_EXPANSIONS} patterns, counting repeats, so a hostile set costs no more than that`, () => {
    const wide = `{${Array.from({ length: MAX_EXPANSIONS + 1 }, (_, i) => `f${i}`).join(',')}}`;
    expect(expandBraces(wide)).toEqual([wide]);
    const repeats = '{a,a}'.repeat(40); // 2^40 leaves, all the same pattern
    expect(expandBraces(repeats)).toEqual([repeats]);
    const fits = `{${Array.from({ length: MAX_EXPANSIONS }, (_, i) => `f${i}`).join(',')}}`;
    expect(expandBraces(fits)).toHaveLength(MAX_EXPANSIONS);
    expect(expandBraces('{'.repeat(5000))).toEqual(['{'.repeat(5000)]);
  });
});
