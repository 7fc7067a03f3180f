-- All of one publication in one atomic step (src/redis/results.ts): the
-- hash, the log lines, the channel message, the LREM of the raw claimed
-- text, the dead letter, the workers' prompts kept for the console, and the
-- deletion of the checkpoint. It publishes only while this holder's fencing
-- token (ARGV[18]) is the checkpoint's (-1 otherwise: another holder took it
-- over, so exactly one result is published; without a token, while ARGV[14]
-- is the owner), and declines (0) while the producer's own `results:{id}`
-- record is missing, unless forced: a final status written first would be
-- overwritten with `pending` by the producer (PROTOCOL.md, "Results"). What
-- the claim already learnt of that record (ARGV[2]) spares the look.
-- Safe to send twice: a publication that went out leaves its token in the
-- result hash (field `fence`, written by the same HSET), and a rerun of it
-- (its reply was lost) finds it there and answers 1 without writing
-- anything. (A rejected message without an id has no hash: a rerun of its
-- dead-lettering answers -1 and does nothing.)
--
-- With an id, the task also goes into the console's tasks index
-- (src/redis/taskIndex.ts): into the set of its finished state (out of the
-- others), its row into the info hash, that set trimmed to its newest ids
-- (their rows deleted with them); a failed task is `cancelled` when a
-- cancel reached it (ARGV[21], or the checkpoint's `cancel`, read here
-- before the checkpoint goes).
--
-- numkeys: 12
-- KEYS: 1 result, 2 logs, 3 active, 4 dead letters, 5 checkpoint, 6 recent failures, 7 prompts, 8 index set completed, 9 index set partial, 10 index set failed, 11 index set cancelled, 12 index rows.
-- ARGV: 1 force, 2 record (seen|missing|unknown), 3 has id, 4 id, 5 status, 6 outcome,
-- 7 output, 8 completed at, 9 error, 10 message, 11 raw, 12 dead letter, 13 dead-letter
-- limit, 14 owner, 15 recent failure, 16 prompt TTL, 17 number of prompt pairs, 18 fence,
-- 19 index set (1-4, as KEYS 8-11), 20 index row (JSON, its `state` replaced when cancelled),
-- 21 cancelled while queued (1|0), 22 published at (ms), 23 ids kept per index set,
-- then the prompt pairs, then the log lines.
-- Reply: 1 published (or already was), 0 declined (producer's record missing), -1 not the holder.
if ARGV[18] ~= '' then
  if redis.call('HGET', KEYS[5], 'fence') ~= ARGV[18] then
    if ARGV[3] == '1' and redis.call('HGET', KEYS[1], 'fence') == ARGV[18] then return 1 end
    return -1
  end
elseif ARGV[14] ~= '' and redis.call('HGET', KEYS[5], 'owner') ~= ARGV[14] then return -1 end
local prompts = tonumber(ARGV[17])
if ARGV[3] == '1' then
  if ARGV[1] ~= '1' and ARGV[2] ~= 'seen' and redis.call('HEXISTS', KEYS[1], 'task_id') == 0 then return 0 end
  local fields = { 'task_id', ARGV[4], 'status', ARGV[5], 'outcome', ARGV[6], 'output', ARGV[7], 'completed_at', ARGV[8] }
  if ARGV[9] ~= '' then fields[#fields + 1] = 'error'; fields[#fields + 1] = ARGV[9] end
  if ARGV[18] ~= '' then fields[#fields + 1] = 'fence'; fields[#fields + 1] = ARGV[18] end
  redis.call('HSET', KEYS[1], unpack(fields))
  if ARGV[9] == '' and ARGV[2] ~= 'seen' then redis.call('HDEL', KEYS[1], 'error') end
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 24 + 2 * prompts))
  redis.call('PUBLISH', KEYS[1], ARGV[10])
  local which = tonumber(ARGV[19])
  local row = ARGV[20]
  if which == 3 and (ARGV[21] == '1' or redis.call('HEXISTS', KEYS[5], 'cancel') == 1) then
    which = 4
    local r = cjson.decode(row)
    r.state = 'cancelled'
    row = cjson.encode(r)
  end
  local set = KEYS[7 + which]
  redis.call('ZADD', set, ARGV[22], ARGV[4])
  -- A row there already: published before (then requeued), maybe in another state: out of the other sets.
  if redis.call('HSET', KEYS[12], ARGV[4], row) == 0 then
    for i = 8, 11 do
      if i ~= 7 + which then redis.call('ZREM', KEYS[i], ARGV[4]) end
    end
  end
  -- At most 1000 a time (unpack's limit); a set over by more shrinks by that much each publication.
  local over = math.min(redis.call('ZCARD', set) - tonumber(ARGV[23]), 1000)
  if over > 0 then
    local gone = redis.call('ZRANGE', set, 0, over - 1)
    redis.call('ZREMRANGEBYRANK', set, 0, over - 1)
    redis.call('HDEL', KEYS[12], unpack(gone))
  end
end
redis.call('LREM', KEYS[3], 1, ARGV[11])
if ARGV[12] ~= '' then
  redis.call('LPUSH', KEYS[4], ARGV[12])
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[13]) - 1)
end
redis.call('DEL', KEYS[5])
if ARGV[15] ~= '' then
  redis.call('LPUSH', KEYS[6], ARGV[15])
  redis.call('LTRIM', KEYS[6], 0, 49)
end
if prompts > 0 then
  redis.call('HSET', KEYS[7], unpack(ARGV, 24, 23 + 2 * prompts))
  redis.call('EXPIRE', KEYS[7], ARGV[16])
end
return 1
