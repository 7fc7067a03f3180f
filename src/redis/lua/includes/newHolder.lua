-- hold(checkpoint, fenceKey, agent, now, token): the checkpoint fields a new
-- holder starts with: a new fencing token from the domain's counter
-- (fenceKey), always above the previous holder's, and the holder's claim
-- token; the previous holder's batch number goes (src/redis/progress.ts).
-- A graceful handoff (field `handoff`) does not count as a takeover.
local function hold(checkpoint, fenceKey, agent, now, token)
  local fence = redis.call('INCR', fenceKey)
  -- Never at or below the holder's it replaces, even if the counter was lost.
  local before = tonumber(redis.call('HGET', checkpoint, 'fence') or '0') or 0
  if fence <= before then
    fence = before + 1
    redis.call('SET', fenceKey, fence)
  end
  fence = tostring(fence)
  redis.call('HSET', checkpoint, 'owner', agent, 'claimed_at', now, 'fence', fence, 'claim_token', token)
  redis.call('HDEL', checkpoint, 'progress_seq')
  if redis.call('HDEL', checkpoint, 'handoff') == 0 then redis.call('HINCRBY', checkpoint, 'takeovers', 1) end
end
