import { describe, expect, it } from 'vitest';
import type { WorkerName } from '../../src/protocol/output.ts';
import { KEYWORDS, matchedWorkers, matchKeywords, matchTaskKeywords } from '../../src/planning/keywords.ts';
import { makeTask } from '../support/fixtures.ts';

/** The keywords one text matched, as `worker:keyword` strings. */
function hits(text: string): string[] {
  const matches = matchKeywords([text]);
  return (Object.keys(matches) as WorkerName[]).flatMap((worker) => matches[worker].map((hit) => `${worker}:${hit.keyword}`));
}

describe('matchKeywords', () => {
  it('matches every keyword of the table as a whole word, for its own worker only', () => {
    for (const [worker, keywords] of Object.entries(KEYWORDS)) {
      for (const keyword of keywords) {
        // "rest" in lower case needs "api" after it; the table's own spelling is REST.
        const text = keyword === 'rest' ? 'a REST thing' : `a ${keyword} thing`;
        expect(hits(text), keyword).toEqual([`${worker}:${keyword}`]);
      }
    }
  });

  it.each([
    ['user registration', 'auth-worker:register'],
    ['registered users', 'auth-worker:register'],
    ['admin roles', 'auth-worker:role'],
    ['role-based access', 'auth-worker:role'],
    ['list the endpoints', 'api-worker:endpoint'],
    ['authentication', 'auth-worker:auth'],
    ['authorization header', 'auth-worker:auth'],
    ['authenticate the user', 'auth-worker:auth'],
    ['Unauthorized callers', 'auth-worker:auth'],
    ['OAuth2 provider', 'auth-worker:auth'],
    ['failed logins', 'auth-worker:login'],
    ['when the user is logged in', 'auth-worker:login'],
    ['refresh tokens', 'auth-worker:token'],
    ['data modelling', 'db-worker:model'],
    ['indexes', 'db-worker:index'],
    ['indices', 'db-worker:index'],
    ['reindex the column', 'db-worker:index'],
    ['relationship between users and posts', 'db-worker:relation'],
    ['migrate the data', 'db-worker:migration'],
    ['store it in the db', 'db-worker:database'],
    ['RESTful service', 'api-worker:rest'],
    ['a rest api for orders', 'api-worker:rest'],
    ['Express router', 'api-worker:route'],
    ['HTTPS only', 'api-worker:http'],
  ])('%s → %s', (text, expected) => {
    expect(hits(text)).toEqual([expected]);
  });

  it.each([
    ['an iPad tablet layout'],
    ['authorship of commits'],
    ['the author and the authority'],
    ['a package registry'],
    ['the rest of the file'],
    ['restore and restart'],
    ['compound interest'],
    ['as requested by ops'],
    ['export everything from src/utils/index.ts'],
    ['add a log in the handler'],
    ['a tokenizer for search'],
    ['store it in sessionStorage'],
    ['a Rolex watch'],
  ])('%s matches nothing', (text) => {
    expect(hits(text)).toEqual([]);
  });

  it('reports each keyword once, with every distinct word that matched it, in order', () => {
    const matches = matchKeywords(['Register users; registration emails', 'REGISTER again']);
    expect(matches['auth-worker']).toEqual([{ keyword: 'register', words: ['register', 'registration'] }]);
    expect(matchKeywords(['the user is logged in'])['auth-worker']).toEqual([{ keyword: 'login', words: ['logged in'] }]);
  });

  it('keeps the keyword order of the table, whatever the order in the text', () => {
    const matches = matchKeywords(['role, password and then auth']);
    expect(matches['auth-worker'].map((hit) => hit.keyword)).toEqual(['auth', 'password', 'role']);
  });
});

describe('matchTaskKeywords', () => {
  it('tokenises the requirements as well as the description', () => {
    const task = makeTask('Improve the signup flow', { requirements: ['Store sessions in Redis', 'Add an index on email'] });
    const matches = matchTaskKeywords(task);
    expect(matchedWorkers(matches)).toEqual(['db-worker', 'auth-worker']);
    expect(matches['auth-worker']).toEqual([{ keyword: 'session', words: ['sessions'] }]);
  });

  it('does not route on context keys, which describe the project rather than ask for work', () => {
    const task = makeTask('Tidy the README', { context: { existing_auth: false, database: 'postgres' } });
    expect(matchedWorkers(matchTaskKeywords(task))).toEqual([]);
  });
});
