-- Records a batch of claims in one command (src/redis/queue.ts). For each:
-- its checkpoint (owner = this agent, a new fencing token from the domain's
-- counter, the claim token) and, for a valid task, `in_progress`. The reply
-- per claim says what the publication needs to know of the producer's
-- record: HSET answers how many of status and started_at were new (1: status
-- was there and no claim came before; 2: the producer has not written it
-- yet; 0: claimed before, an old error field may be there), then the fence.
--
-- Idempotent for one delivery: ioredis sends a script again when its reply
-- was lost in a reconnect (and resend() does when it aborted it). Each claim
-- carries a token (agent id + a random nonce) that the first run stores
-- (`claim_token`, with its answer in `claim_reply`): a rerun finds its own
-- token and answers as the first run did. A message whose checkpoint already
-- exists under another token is a true second delivery of a task in flight
-- (the same task id, or the same unparseable text): it is removed from the
-- active list and dead-lettered (once: `dup:{token}` marks it), and the first
-- delivery publishes the task's one result. A claim whose message is no
-- longer in the active list (its rerun after the message was dealt with)
-- records nothing.
--
-- numkeys: 3+2n
-- KEYS: 1 active, 2 dead letters, 3 fence counter, then checkpoint and result per claim.
-- ARGV: 1 agent, 2 claimed-at ms, 3 claimed-at ISO, 4 dead-letter limit, then raw,
-- dead letter, valid ('1'|'0'), token per claim.
-- Reply: two strings per claim: the record reply ('0' nothing recorded, '1' no
-- result record written, '2' status was there, '3' record missing, '4' claimed
-- before) and the fence ('' when nothing was recorded).
local out = {}
for i = 0, (#KEYS - 3) / 2 - 1 do
  local checkpoint, result = KEYS[4 + 2 * i], KEYS[5 + 2 * i]
  local raw, dead, valid, token = ARGV[5 + 4 * i], ARGV[6 + 4 * i], ARGV[7 + 4 * i], ARGV[8 + 4 * i]
  local held = redis.call('HMGET', checkpoint, 'claim_token', 'claim_reply', 'fence', 'dup:' .. token, 'raw')
  if held[1] == token then
    out[#out + 1] = held[2]
    out[#out + 1] = held[3]
  elseif held[4] then
    out[#out + 1] = '0'
    out[#out + 1] = ''
  elseif held[5] then
    redis.call('LREM', KEYS[1], 1, raw)
    redis.call('LPUSH', KEYS[2], dead)
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
    redis.call('HSET', checkpoint, 'dup:' .. token, '1')
    out[#out + 1] = '0'
    out[#out + 1] = ''
  elseif not redis.call('LPOS', KEYS[1], raw) then
    out[#out + 1] = '0'
    out[#out + 1] = ''
  else
    local fence = tostring(redis.call('INCR', KEYS[3]))
    local reply = '1'
    if valid == '1' then
      local added = redis.call('HSET', result, 'status', 'in_progress', 'started_at', ARGV[3])
      reply = added == 1 and '2' or (added == 2 and '3' or '4')
    end
    redis.call('HSET', checkpoint, 'raw', raw, 'owner', ARGV[1], 'claimed_at', ARGV[2], 'first_claimed_at', ARGV[2], 'takeovers', '0',
      'fence', fence, 'claim_token', token, 'claim_reply', reply)
    out[#out + 1] = reply
    out[#out + 1] = fence
  end
end
return out
