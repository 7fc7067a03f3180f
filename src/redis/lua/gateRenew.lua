-- Model gate: renews a lease that is still held (server time, TIME).
-- numkeys: 1
-- KEYS[1] leases (sorted set: lease id -> expiry ms)
-- ARGV[1] lease id, ARGV[2] lease TTL ms
-- Reply: 1 renewed, 0 the lease is gone (expired and taken back, or released).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  return 1
end
return 0
