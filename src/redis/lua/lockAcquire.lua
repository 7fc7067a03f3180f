-- SET NX PX that a rerun (its reply was lost) answers as the first run did:
-- the lock already holds this token (src/redis/lock.ts).
-- numkeys: 1
-- KEYS[1] lock
-- ARGV[1] holder's token, ARGV[2] TTL ms
-- Reply: 1 held by this token now, 0 someone else holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return 0
