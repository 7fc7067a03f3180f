-- Moves up to ARGV[1] items from the pending list to the active list in one
-- round trip, so a listener with many free slots fills them at once instead
-- of one BLMOVE each (src/redis/queue.ts).
-- numkeys: 2
-- KEYS[1] pending, KEYS[2] active
-- ARGV[1] most items to move
-- Reply: the moved items, oldest first (empty when the queue was empty).
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not v then break end
  out[#out + 1] = v
end
return out
