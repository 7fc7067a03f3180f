-- Model gate: gives a lease back, counts its tokens and tells the breaker
-- how the call went. The freed slot wakes one waiting instance; a change of
-- the breaker's state (any end of the probe) wakes them all, on the shared
-- channel.
--
-- numkeys: 5
-- KEYS[1] leases, KEYS[2] breaker, KEYS[3] token window,
-- KEYS[4] shared wake-up channel, KEYS[5] waiting instances
-- ARGV[1] lease id, ARGV[2] outcome ('ok' | 'overloaded' | other),
-- ARGV[3] retry-after ms (-1: none), ARGV[4] breaker threshold,
-- ARGV[5] cooldown ms, ARGV[6] max cooldown ms, ARGV[7] input tokens,
-- ARGV[8] output tokens, ARGV[9] wake-up channel prefix,
-- ARGV[10] pace ms (-1: none): the API's rate-limit headers said the next
-- call like this one would not fit before then; no call starts anywhere
-- until that time (the breaker hash's pace_until).
-- Reply: the breaker's state after the call ('closed' | 'open' | 'half_open'),
-- for this instance's metrics.
--@include "wakeNext"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, outcome = ARGV[1], ARGV[2]
local retryAfter, threshold, cooldown, maxCooldown = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local tokIn, tokOut, prefix = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
redis.call('ZREM', KEYS[1], id)
local pace = tonumber(ARGV[10] or '-1')
if pace >= 0 then
  local paceUntil = tonumber(redis.call('HGET', KEYS[2], 'pace_until') or '0')
  if now + pace > paceUntil then redis.call('HSET', KEYS[2], 'pace_until', now + pace) end
end
if tokIn > 0 or tokOut > 0 then
  local minute = math.floor(now / 60000)
  redis.call('HINCRBY', KEYS[3], 'in:' .. minute, tokIn)
  redis.call('HINCRBY', KEYS[3], 'out:' .. minute, tokOut)
  redis.call('HDEL', KEYS[3], 'in:' .. (minute - 2), 'out:' .. (minute - 2))
  redis.call('PEXPIRE', KEYS[3], 180000)
end
local state = redis.call('HGET', KEYS[2], 'state') or 'closed'
local before = state
local isProbe = redis.call('HGET', KEYS[2], 'probe') == id
if outcome == 'ok' then
  if state == 'half_open' and isProbe then
    redis.call('HSET', KEYS[2], 'state', 'closed', 'failures', 0)
    redis.call('HDEL', KEYS[2], 'probe', 'since', 'open_until', 'reopens')
    state = 'closed'
  elseif state == 'closed' then
    redis.call('HSET', KEYS[2], 'failures', 0)
  end
elseif outcome == 'overloaded' then
  local failures = redis.call('HINCRBY', KEYS[2], 'failures', 1)
  if isProbe or (state == 'closed' and failures >= threshold) then
    local reopens = 0
    if isProbe then reopens = redis.call('HINCRBY', KEYS[2], 'reopens', 1) end
    local cool = retryAfter
    if cool < 0 then cool = math.min(cooldown * math.pow(2, reopens), maxCooldown) end
    redis.call('HSET', KEYS[2], 'state', 'open', 'open_until', now + cool)
    redis.call('HDEL', KEYS[2], 'probe')
    if redis.call('HEXISTS', KEYS[2], 'since') == 0 then redis.call('HSET', KEYS[2], 'since', now) end
    redis.call('HINCRBY', KEYS[2], 'opened', 1)
    state = 'open'
  elseif state == 'open' and retryAfter >= 0 then
    local untilMs = tonumber(redis.call('HGET', KEYS[2], 'open_until') or '0')
    if now + retryAfter > untilMs then redis.call('HSET', KEYS[2], 'open_until', now + retryAfter) end
  end
elseif isProbe then
  redis.call('HDEL', KEYS[2], 'probe')
end
if isProbe or state ~= before then redis.call('PUBLISH', KEYS[4], '*') else wakeNext(KEYS[5], prefix) end
return state
