-- Takes a task over from a holder whose heartbeat is gone (or from our own
-- previous life, when ARGV[1] == ARGV[2]); refuses when someone else got
-- there first (src/redis/recovery.ts). A graceful handoff does not count as
-- a crash. A rerun with the same token (a lost reply) answers as the first
-- run did.
-- numkeys: 3
-- KEYS[1] checkpoint, KEYS[2] the owner's heartbeat, KEYS[3] fence counter
-- ARGV[1] owner seen, ARGV[2] agent, ARGV[3] now, ARGV[4] claim token
-- Reply: the checkpoint (HGETALL) once taken over, nil when refused.
--@include "newHolder"
local cur = redis.call('HMGET', KEYS[1], 'owner', 'claim_token')
if cur[2] == ARGV[4] then return redis.call('HGETALL', KEYS[1]) end
if cur[1] ~= ARGV[1] then return false end
if ARGV[1] ~= ARGV[2] and redis.call('EXISTS', KEYS[2]) == 1 then return false end
hold(KEYS[1], KEYS[3], ARGV[2], ARGV[3], ARGV[4])
return redis.call('HGETALL', KEYS[1])
