-- Takes a dead letter out and puts its message on the queue in one step, so
-- a double click or two consoles cannot queue it twice
-- (src/redis/deadLetters.ts). The producer's results record is reset to
-- pending, as a producer sending it afresh would.
-- numkeys: 4
-- KEYS[1] dead letters, KEYS[2] pending, KEYS[3] result, KEYS[4] notifications
-- ARGV[1] the dead-letter entry as stored, ARGV[2] the message to queue,
-- ARGV[3] task id ('' : no result record to reset)
-- Reply: 1 requeued, 0 the entry is no longer in the list.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HDEL', KEYS[3], 'outcome', 'output', 'error', 'completed_at')
  redis.call('HSET', KEYS[3], 'task_id', ARGV[3], 'status', 'pending')
end
redis.call('PUBLISH', KEYS[4], ARGV[2])
return 1
