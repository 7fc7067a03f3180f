-- Whether a task's holder may still act (src/redis/lock.ts): the lock (when
-- given) is still its own, and the checkpoint carries its fencing token. One
-- script, so nothing comes between the two checks.
-- numkeys: 1-2
-- KEYS[1] checkpoint, KEYS[2] lock (optional)
-- ARGV[1] fence, ARGV[2] lock token
-- Reply: 1 current, 0 the lock was lost, -1 another holder (or published).
if #KEYS > 1 and redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return -1 end
return 1
