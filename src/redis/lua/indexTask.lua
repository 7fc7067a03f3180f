-- A published task into the console's tasks index (src/redis/taskIndex.ts):
-- into the set of its finished state (out of the others: a requeued task
-- published again moves), its row into the info hash, and the set trimmed
-- to its newest ARGV[5] ids, their rows deleted with them. Safe to send twice.
-- numkeys: 5
-- KEYS: 1-4 the finished-state sets (completed, partial, failed, cancelled), 5 the info hash.
-- ARGV: 1 which set (1 to 4), 2 task id, 3 published at (ms), 4 the row (JSON), 5 ids kept per set.
-- Reply: how many old ids were trimmed.
local which = tonumber(ARGV[1])
for i = 1, 4 do
  if i ~= which then redis.call('ZREM', KEYS[i], ARGV[2]) end
end
redis.call('ZADD', KEYS[which], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[5], ARGV[2], ARGV[4])
-- At most 1000 a call (unpack's limit); a set over by more shrinks by that much each time.
local over = math.min(redis.call('ZCARD', KEYS[which]) - tonumber(ARGV[5]), 1000)
if over <= 0 then return 0 end
local gone = redis.call('ZRANGE', KEYS[which], 0, over - 1)
redis.call('ZREMRANGEBYRANK', KEYS[which], 0, over - 1)
redis.call('HDEL', KEYS[5], unpack(gone))
return over
