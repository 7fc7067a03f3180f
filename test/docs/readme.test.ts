import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README is the front door: short, no history, links only into the
 * repository (a clone has nothing beside it), and the guides under docs/
 * link to files and headings that exist.
 */
const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const pages = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Markdown without fenced blocks and code spans: a link written as code is not a link. */
const prose = (text: string): string => text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');

/** Every link target of a page: inline links and images, reference definitions, autolinks, HTML href/src. */
function linksOf(text: string): string[] {
  const t = prose(text);
  return [
    ...[...t.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
    ...[...t.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]!),
    ...[...t.matchAll(/<((?:https?|ftp):\/\/[^>\s]+)>/g)].map((m) => m[1]!),
    ...[...t.matchAll(/\b(?:href|src)\s*=\s*"([^"]+)"/g)].map((m) => m[1]!),
  ];
}

/** GitHub's anchors of a page's headings (`### Options of \`start\`` → `options-of-start`, repeats get -1, -2…). */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

const external = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

describe('the README', () => {
  const readme = read('README.md');

  it('is under 300 lines', () => {
    expect(readme.split('\n').length).toBeLessThan(300);
  });

  it('tells no history of issues', () => {
    expect(readme).not.toMatch(/\bissues?\s*#?\d+/i);
    expect(readme).not.toMatch(/#\d+\b(?![\w-])/);
  });

  it('links to nothing outside the repository', () => {
    expect(linksOf(readme).filter(external)).toEqual([]);
    expect(readme).not.toMatch(/\.\.\/shared\b/);
  });

  it('leads into the guides: operations, design, delivery, security, model API, benchmarks', () => {
    const targets = new Set(linksOf(readme).map((t) => t.split('#')[0]));
    for (const guide of ['operations', 'design', 'delivery', 'security', 'model-api', 'benchmarks']) expect(targets, guide).toContain(`docs/${guide}.md`);
  });
});

describe('links in README.md and docs/*.md', () => {
  it.each(pages)('%s: every relative link names a file in the repository (and a heading of it, with #)', (page) => {
    const text = read(page);
    const broken: string[] = [];
    for (const target of linksOf(text)) {
      if (external(target)) continue;
      const [file, anchor] = target.split('#') as [string, string | undefined];
      const resolved = file === '' ? path.join(root, page) : path.resolve(root, path.dirname(page), decodeURIComponent(file));
      const inside = path.relative(root, resolved);
      if (inside.startsWith('..') || path.isAbsolute(inside)) {
        broken.push(`${target}: leaves the repository`);
        continue;
      }
      if (!existsSync(resolved)) {
        broken.push(`${target}: no such file`);
        continue;
      }
      if (anchor !== undefined && anchor !== '' && statSync(resolved).isFile() && resolved.endsWith('.md')) {
        if (!anchorsOf(readFileSync(resolved, 'utf8')).has(decodeURIComponent(anchor))) broken.push(`${target}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('finds the links it checks', () => {
    expect(pages.length).toBeGreaterThan(5);
    expect(linksOf(read('README.md')).length).toBeGreaterThan(10);
    expect(linksOf('see [a](x.md), ![b](y.png "t"), `[c](not-a-link.md)`\n[d]: z.md\n<https://e.example>')).toEqual(['x.md', 'y.png', 'z.md', 'https://e.example']);
    expect([...anchorsOf('# Options of `start`\n## Traces (OpenTelemetry)\n## Traces (OpenTelemetry)\n')]).toEqual(['options-of-start', 'traces-opentelemetry', 'traces-opentelemetry-1']);
  });
});
