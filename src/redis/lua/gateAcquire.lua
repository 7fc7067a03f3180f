-- Model gate: asks for a slot for one model call (src/limits/modelGate.ts).
-- Server time (TIME), so instances with skewed clocks agree on expiries.
-- Expired leases (their holder died) are taken back first. The breaker:
-- open until open_until, then half-open, where one caller (the probe) gets
-- through while its lease lives. Tokens per minute: a sliding window over
-- this minute and the last, weighted by how much of the last still falls in it.
-- No slot: the instance joins the waiting list (KEYS[4], oldest first, it
-- keeps its place while it waits) and is woken alone when a slot frees.
--
-- numkeys: 4
-- KEYS[1] leases (sorted set: lease id -> expiry ms)
-- KEYS[2] breaker (hash: state, since, open_until, probe, probes, ...)
-- KEYS[3] token window (hash: in:<minute>, out:<minute>)
-- KEYS[4] waiting instances (sorted set: gate id -> queued at, microseconds)
-- ARGV[1] lease id, ARGV[2] lease TTL ms, ARGV[3] max calls (0: no limit),
-- ARGV[4] input tokens per minute, ARGV[5] output tokens per minute (0: no limit),
-- ARGV[6] gate id (this instance), ARGV[7] wake-up channel prefix,
-- ARGV[8] longest wait ms before asking again
-- Reply: {'ok', probe (1|0), 0}, or {reason, wait ms, breaker open since ms}
-- with reason 'breaker_open', 'rate_limit' (the API's rate-limit headers
-- said to wait: the breaker hash's pace_until), 'tokens_per_minute' or
-- 'model_slot'.
--@include "wakeNext"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, ttl, maxCalls, tpmIn, tpmOut = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local gateId, prefix = ARGV[6], ARGV[7]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local state = redis.call('HGET', KEYS[2], 'state') or 'closed'
local since = tonumber(redis.call('HGET', KEYS[2], 'since') or '0')
if state == 'open' then
  local untilMs = tonumber(redis.call('HGET', KEYS[2], 'open_until') or '0')
  if now < untilMs then return {'breaker_open', untilMs - now, since} end
  redis.call('HSET', KEYS[2], 'state', 'half_open')
  state = 'half_open'
end
local paceUntil = tonumber(redis.call('HGET', KEYS[2], 'pace_until') or '0')
if now < paceUntil then return {'rate_limit', math.max(1, math.min(tonumber(ARGV[8]), paceUntil - now)), 0} end
local probe = 0
if state == 'half_open' then
  local holder = redis.call('HGET', KEYS[2], 'probe')
  if holder then
    local expiry = redis.call('ZSCORE', KEYS[1], holder)
    if expiry then return {'breaker_open', math.min(1000, tonumber(expiry) - now), since} end
  end
  probe = 1
end
if tpmIn > 0 or tpmOut > 0 then
  local minute = math.floor(now / 60000)
  local left = 1 - (now % 60000) / 60000
  local w = redis.call('HMGET', KEYS[3], 'in:' .. minute, 'out:' .. minute, 'in:' .. (minute - 1), 'out:' .. (minute - 1))
  local usedIn = (tonumber(w[1]) or 0) + (tonumber(w[3]) or 0) * left
  local usedOut = (tonumber(w[2]) or 0) + (tonumber(w[4]) or 0) * left
  if (tpmIn > 0 and usedIn >= tpmIn) or (tpmOut > 0 and usedOut >= tpmOut) then return {'tokens_per_minute', 1000, 0} end
end
if maxCalls > 0 and redis.call('ZCARD', KEYS[1]) >= maxCalls then
  -- Microseconds: instances that queue within the same millisecond keep their order.
  redis.call('ZADD', KEYS[4], 'NX', tonumber(t[1]) * 1000000 + tonumber(t[2]), gateId)
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {'model_slot', math.max(1, math.min(tonumber(ARGV[8]), tonumber(first[2]) - now)), 0}
end
redis.call('ZADD', KEYS[1], now + ttl, id)
-- Served: should this instance need another slot it queues again, behind the others.
redis.call('ZREM', KEYS[4], gateId)
-- Slots still free (expired leases taken back, several released at once): pass the word on.
if maxCalls > 0 and redis.call('ZCARD', KEYS[1]) < maxCalls then wakeNext(KEYS[4], prefix) end
if probe == 1 then
  redis.call('HSET', KEYS[2], 'probe', id)
  redis.call('HINCRBY', KEYS[2], 'probes', 1)
end
return {'ok', probe, 0}
