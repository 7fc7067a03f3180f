import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseTaskMessage } from '../../src/protocol/task.ts';
import { hasId, logFields, taskRefOf } from '../../src/protocol/taskRef.ts';
import { makeTask } from '../support/fixtures.ts';

const refOf = (raw: Buffer | string) => taskRefOf(raw, parseTaskMessage(raw.toString()));

describe('a task ref', () => {
  it('is named by the task id of a message that parsed, and by one recovered from a rejected one', () => {
    expect(refOf(JSON.stringify({ ...makeTask(), task_id: 't-1' }))).toEqual({ key: 't-1', id: 't-1' });
    expect(refOf('{"task_id": "t-2", "payload": {"description": "say "hi""}}')).toEqual({ key: 't-2', id: 't-2' });
    expect(refOf(JSON.stringify({ task_id: 't-3', payload: {} }))).toEqual({ key: 't-3', id: 't-3' });
  });

  it('has no id, and a raw- key from the hash of its bytes, when none can be recovered', () => {
    const text = '{"no": "task id here"';
    const ref = refOf(text);
    expect(ref).toEqual({ key: `raw-${createHash('sha1').update(text).digest('hex')}`, id: undefined });
    expect(hasId(ref)).toBe(false);
    // The claim holds bytes: the same key from the bytes as from the text.
    expect(refOf(Buffer.from(text))).toEqual(ref);
    // Bytes that are not UTF-8 still name one checkpoint each.
    expect(refOf(Buffer.from([0xff, 0x01])).key).not.toBe(refOf(Buffer.from([0xff, 0x02])).key);
  });

  it('is printed in logs as task_id, or as claim (its key) when it has no id', () => {
    expect(logFields({ key: 't-1', id: 't-1' })).toEqual({ task_id: 't-1' });
    expect(logFields({ key: 'raw-abc', id: undefined })).toEqual({ claim: 'raw-abc' });
  });
});
