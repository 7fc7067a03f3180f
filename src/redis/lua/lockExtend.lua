-- Compare-and-extend (src/redis/lock.ts): only the holder of the token may
-- extend, so a holder whose lock expired (it stalled past the TTL) cannot
-- keep the lock someone else now holds.
-- numkeys: 1
-- KEYS[1] lock
-- ARGV[1] holder's token, ARGV[2] TTL ms
-- Reply: 1 extended, 0 not this holder's (or gone).
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end
