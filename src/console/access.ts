import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { ConfigError } from '../errors.ts';

/** The cookie a browser gets after opening the console once with `?token=`. */
export const TOKEN_COOKIE = 'orch_console_token';

export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || host === '[::1]' || (isIP(host) === 4 && host.startsWith('127.'));

/**
 * Anything beyond loopback can reach a console that cancels tasks and
 * requeues dead letters, so binding there without a token is refused.
 */
export function checkBinding(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token) {
    throw new ConfigError(
      `--host ${host} makes the console reachable from other machines: give it --token <secret> (or ORCH_CONSOLE_TOKEN), or keep the default 127.0.0.1`,
    );
  }
}

export const newSecret = (): string => randomBytes(24).toString('base64url');

/** Constant-time, so the token cannot be guessed a character at a time from response times. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** How a request proved it knows the token, if it did. */
export function presentedToken(req: IncomingMessage, url: URL): { token: string | undefined; viaQuery: boolean } {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return { token: auth.slice(7).trim(), viaQuery: false };
  const query = url.searchParams.get('token');
  if (query !== null) return { token: query, viaQuery: true };
  return { token: cookie(req, TOKEN_COOKIE), viaQuery: false };
}

/**
 * A console on loopback answers only to loopback host names: a page on
 * another site that rebinds its own name to 127.0.0.1 would otherwise be
 * same-origin with it (DNS rebinding).
 */
export function hostAllowed(req: IncomingMessage, boundHost: string): boolean {
  if (!isLoopback(boundHost)) return true;
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  return isLoopback(host);
}
