import { isUtf8 } from 'node:buffer';

/**
 * How a claimed message's bytes appear in a JSON record (a dead letter):
 * `raw` is their text, and when they are not valid UTF-8 (so `raw` holds
 * U+FFFD in place of some bytes) `raw_base64` keeps them exactly.
 */
export function rawForJson(raw: Buffer): { raw: string; raw_base64?: string } {
  const text = raw.toString('utf8');
  return isUtf8(raw) ? { raw: text } : { raw: text, raw_base64: raw.toString('base64') };
}
