-- An entry in the active list with no checkpoint: its claimer died between
-- the atomic move and the checkpoint write (or a claim reply was lost in a
-- reconnect). Adopted once it has stayed so for the orphan grace
-- (src/redis/recovery.ts). A rerun with the same token answers as the first.
-- numkeys: 3
-- KEYS[1] checkpoint, KEYS[2] active, KEYS[3] fence counter
-- ARGV[1] raw message, ARGV[2] agent, ARGV[3] now, ARGV[4] claim token
-- Reply: the new checkpoint (HGETALL), nil when refused.
if redis.call('HGET', KEYS[1], 'claim_token') == ARGV[4] then return redis.call('HGETALL', KEYS[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if not redis.call('LPOS', KEYS[2], ARGV[1]) then return false end
local fence = tostring(redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[1], 'raw', ARGV[1], 'owner', ARGV[2], 'claimed_at', ARGV[3], 'first_claimed_at', ARGV[3], 'takeovers', '1',
  'fence', fence, 'claim_token', ARGV[4])
return redis.call('HGETALL', KEYS[1])
