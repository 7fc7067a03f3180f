-- Model gate: a wake-up reached an instance with nobody left waiting (they
-- gave up): it leaves the waiting list and hands the wake-up on.
-- numkeys: 1
-- KEYS[1] waiting instances (sorted set)
-- ARGV[1] gate id (this instance), ARGV[2] wake-up channel prefix
-- Reply: 0
--@include "wakeNext"
redis.call('ZREM', KEYS[1], ARGV[1])
wakeNext(KEYS[1], ARGV[2])
return 0
