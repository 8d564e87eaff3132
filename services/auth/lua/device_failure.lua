-- Count a wrong PIN on a device (any user) in a fixed window; lock the
-- device for lock_ms once max failures are reached.
-- KEYS[1] the device failure hash {fails, until_ms}
-- ARGV: now_ms, max_failures, window_ms, lock_ms
-- Returns {fails, until_ms}.
local now, max, window, lock_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
if fails == 1 then redis.call('PEXPIRE', KEYS[1], window) end
local until_ms = tonumber(redis.call('HGET', KEYS[1], 'until_ms') or '0')
if fails >= max and until_ms <= now then
  until_ms = now + lock_ms
  redis.call('HSET', KEYS[1], 'until_ms', until_ms)
  redis.call('PEXPIRE', KEYS[1], lock_ms)
end
return {fails, until_ms}
