import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm install` prints an EBADENGINE warning for every installed package
 * whose `engines.node` leaves out the Node it runs on. The README and our
 * `engines` promise a Node version: every package of the lock file must take
 * the oldest one promised, and the newest Node 20 (the line the README names).
 */
const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[] }>;
};

type Version = [number, number, number];
const parse = (text: string): Version => {
  const [major = 0, minor = 0, patch = 0] = text.replace(/^v/, '').split('.').map((n) => (/^\d+$/.test(n) ? Number(n) : 0));
  return [major, minor, patch];
};
const compare = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Whether `version` satisfies one comparator of a range (`>=20.6.0`, `^18.19.0`, `~1.2`, `20.x`, `*`). */
function satisfiesOne(version: Version, comparator: string): boolean {
  const m = /^(>=|<=|>|<|\^|~|=)?\s*v?([\dx*]+(?:\.[\dx*]+)*)?$/.exec(comparator.trim());
  if (!m) throw new Error(`cannot read the engines comparator ${JSON.stringify(comparator)}`);
  const [, op = '=', text = '*'] = m;
  const parts = text.split('.');
  const wild = parts.findIndex((p) => p === 'x' || p === '*');
  const given = parse(text);
  const c = compare(version, given);
  switch (op) {
    case '>=': return c >= 0;
    case '>': return c > 0;
    case '<=': return c <= 0;
    case '<': return c < 0;
    case '^': return c >= 0 && (given[0] > 0 ? version[0] === given[0] : version[0] === 0 && version[1] === given[1]);
    case '~': return c >= 0 && version[0] === given[0] && (parts.length < 2 || version[1] === given[1]);
    default: {
      // `20`, `20.x`, `*`: the parts given must match.
      const fixed = wild === -1 ? parts.length : wild;
      return given.slice(0, fixed).every((n, i) => version[i] === n);
    }
  }
}

/** Whether `version` satisfies an npm range: `||` of space-separated comparators. */
function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  return range.split('||').some((part) =>
    part
      .trim()
      .replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => satisfiesOne(v, comparator)),
  );
}

describe('engines', () => {
  it('reads ranges the way npm does', () => {
    expect(satisfies('20.19.0', '^18.19.0 || >=20.6.0')).toBe(true);
    expect(satisfies('20.19.0', '>=22.15.0')).toBe(false);
    expect(satisfies('20.19.0', '^20.19.0 || >=22.12.0')).toBe(true);
    expect(satisfies('20.6.0', '^20.19.0 || >=22.12.0')).toBe(false);
    expect(satisfies('20.19.0', '^10 || ^12 || >=14')).toBe(true);
    expect(satisfies('20.19.0', '>= 10.x')).toBe(true);
    expect(satisfies('20.19.0', '*')).toBe(true);
  });

  it('every package npm installs takes the oldest Node our engines promise, and the newest Node 20', () => {
    const oldest = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(pkg.engines.node)?.[1];
    expect(oldest, `engines.node ${pkg.engines.node} is not of the form >=x.y`).toBeDefined();
    const refused: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (where === '' || range === undefined) continue;
      for (const node of [oldest!, '20.99.0']) if (!satisfies(node, range)) refused.push(`${where.replace(/^.*node_modules\//, '')} (node ${range}) refuses ${node}`);
    }
    expect(refused).toEqual([]);
  });

  it('the README names the Node that engines promises', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const oldest = /^>=\s*(\d+\.\d+)/.exec(pkg.engines.node)![1]!;
    expect(readme).toContain(`Node ${oldest}+`);
  });
});
