-- A task's step in one command (src/redis/progress.ts): checkpoint fields,
-- then the progress lines on the task's log. With a fencing token (ARGV[2])
-- it goes through only while the checkpoint carries it (-1 otherwise:
-- another holder took the task over, or it was published), and a batch
-- number (ARGV[3], growing per task) makes a resend harmless: a batch
-- already written answers 0 and writes nothing again (no line twice).
-- Without one (writers outside the runtime): fields only while the
-- checkpoint exists, so a step that comes after the publication leaves no
-- stray hash.
-- numkeys: 2
-- KEYS[1] checkpoint, KEYS[2] the task's log
-- ARGV: 1 number of field words n, 2 fence, 3 batch, the n field words, then the lines.
-- Reply: 1 written, 0 batch already written, -1 not the holder.
local n = tonumber(ARGV[1])
if ARGV[2] ~= '' then
  local cur = redis.call('HMGET', KEYS[1], 'fence', 'progress_seq')
  if cur[1] ~= ARGV[2] then return -1 end
  if cur[2] and tonumber(cur[2]) >= tonumber(ARGV[3]) then return 0 end
  if n > 0 then
    redis.call('HSET', KEYS[1], 'progress_seq', ARGV[3], unpack(ARGV, 4, n + 3))
  else
    redis.call('HSET', KEYS[1], 'progress_seq', ARGV[3])
  end
elseif n > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 4, n + 3))
end
if #ARGV > n + 3 then redis.call('RPUSH', KEYS[2], unpack(ARGV, n + 4)) end
return 1
