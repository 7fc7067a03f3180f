-- Compare-and-delete (src/redis/lock.ts): only the holder of the token may
-- release, so a holder whose lock expired (it stalled past the TTL) cannot
-- free the lock someone else now holds.
-- numkeys: 1
-- KEYS[1] lock
-- ARGV[1] holder's token
-- Reply: 1 released, 0 not this holder's (or gone).
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end
