-- wakeNext(waiters, prefix): hands a free slot's wake-up to one waiting
-- instance, the one that has waited longest (lowest score in the sorted set
-- `waiters`). PUBLISH counts the subscribers it reached, so an instance
-- that died while waiting (its subscription gone) is skipped, not woken.
-- Tries at most 64 waiters. The channel is `prefix .. gate id`.
local function wakeNext(waiters, prefix)
  for _ = 1, 64 do
    local w = redis.call('ZPOPMIN', waiters)
    if #w == 0 then return end
    if redis.call('PUBLISH', prefix .. w[1], 'slot') > 0 then return end
  end
end
