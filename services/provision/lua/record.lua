-- The provisioning status hash of a device (KEYS[1]): record that
-- generation ARGV[2] was "pushed" or "fetched" (ARGV[1]) at ARGV[3] ms.
-- Generations only move forward: a late record of an older one changes
-- nothing.
--   pushed:  ARGV[4] = when the change happened (ms); with KEYS[2] (the
--            group's event stream) the entries ARGV[6..] are acknowledged for
--            consumer group ARGV[5] in the same step, so a push is never
--            recorded but left unacknowledged, or the other way round.
--   fetched: nothing more.
-- Returns {generation recorded before (-1 if none), pushed_gen, changed_ms}.
local mode, gen, now = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local before = tonumber(redis.call('HGET', KEYS[1], mode .. '_gen') or '-1')
if gen > before then
  redis.call('HSET', KEYS[1], mode .. '_gen', gen, mode .. '_ms', now)
  if mode == 'pushed' then redis.call('HSET', KEYS[1], 'changed_ms', ARGV[4]) end
end
if mode == 'pushed' and KEYS[2] and #ARGV > 5 then
  redis.call('XACK', KEYS[2], ARGV[5], unpack(ARGV, 6))
end
local s = redis.call('HMGET', KEYS[1], 'pushed_gen', 'changed_ms')
return {before, tonumber(s[1] or '0'), tonumber(s[2] or '0')}
