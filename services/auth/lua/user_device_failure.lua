-- Count a wrong PIN for one user on one device and decide the penalty.
-- KEYS[1] the user+device failure hash {fails, until_ms, locked}
-- ARGV: now_ms, free_attempts, backoff_base_ms, backoff_max_ms, lock_after,
--       lock_ms (0: until unlocked), window_ms
-- Returns {fails, until_ms, locked}.
local now, free, base, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lock_after, lock_ms, window = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
local until_ms, locked = 0, 0
if fails >= lock_after then
  locked = 1
  if lock_ms > 0 then until_ms = now + lock_ms end
elseif fails >= free then
  until_ms = now + math.min(base * 2 ^ (fails - free), cap)
end
redis.call('HSET', KEYS[1], 'until_ms', until_ms, 'locked', locked)
if locked == 1 and lock_ms == 0 then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], math.max(window, until_ms - now))
end
return {fails, until_ms, locked}
