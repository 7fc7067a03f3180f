-- A checkpoint whose message is in no queue (neither active nor pending) and
-- whose holder is gone (or is this instance, which does not run it): left
-- behind by a claim that was dropped (before claims were idempotent, a lost
-- reply did that). Its message goes back into the active list, where the
-- publication's LREM and the peers expect it, and it is taken over
-- (src/redis/recovery.ts).
-- numkeys: 5
-- KEYS[1] checkpoint, KEYS[2] the owner's heartbeat, KEYS[3] fence counter,
-- KEYS[4] active, KEYS[5] pending
-- ARGV[1] owner seen, ARGV[2] agent, ARGV[3] now, ARGV[4] claim token
-- Reply: the checkpoint (HGETALL) once taken over, nil when refused.
--@include "newHolder"
local cur = redis.call('HMGET', KEYS[1], 'owner', 'claim_token', 'raw')
if cur[2] == ARGV[4] then return redis.call('HGETALL', KEYS[1]) end
if cur[1] ~= ARGV[1] or not cur[3] then return false end
if ARGV[1] ~= ARGV[2] and redis.call('EXISTS', KEYS[2]) == 1 then return false end
if redis.call('LPOS', KEYS[4], cur[3]) or redis.call('LPOS', KEYS[5], cur[3]) then return false end
redis.call('LPUSH', KEYS[4], cur[3])
hold(KEYS[1], KEYS[3], ARGV[2], ARGV[3], ARGV[4])
return redis.call('HGETALL', KEYS[1])
