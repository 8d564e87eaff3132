-- Admit a PIN attempt, or refuse it without counting anything, in one step.
--
-- KEYS[1] the device's failure counter; KEYS[2] and KEYS[3] (absent for an
-- unknown user or a user without a PIN) the user+device counter and the
-- user's counter across devices. All are hashes
-- {fails, until_ms, locked, expires_ms}: until_ms ends a backoff or lock
-- (0 with locked=1: until an operator unlocks), expires_ms is when the state
-- is forgotten (0: never). Time is the service's clock (ARGV[1]); PEXPIRE
-- only collects the garbage.
--
-- An admitted attempt is counted as a failure at once, so that concurrent
-- attempts cannot all pass an open gate; refund.lua gives it back when the
-- PIN was right.
--
-- ARGV, named fields: now_ms, device_max, device_window_ms, device_lock_ms,
--       free_attempts, backoff_base_ms, backoff_max_ms, lock_after, lock_ms,
--       window_ms, user_max, user_window_ms, user_lock_ms
-- Returns named fields verdict, fails, gate, gate_until_ms, user_locks,
-- device_locks, user_wide_locks:
--   verdict "open" (admitted) or "backoff"/"locked" (refused);
--   fails   user+device failures (this attempt included when admitted);
--   gate    refused: what refused it; admitted: what the next attempt meets
--           if this one fails ("open", "backoff", "locked"), until gate_until_ms;
--   *_locks 1 if this attempt, should it fail, starts that lockout.
local a = named_args(ARGV, {'now_ms', 'device_max', 'device_window_ms', 'device_lock_ms',
                            'free_attempts', 'backoff_base_ms', 'backoff_max_ms', 'lock_after',
                            'lock_ms', 'window_ms', 'user_max', 'user_window_ms', 'user_lock_ms'})
local now = tonumber(a.now_ms)
local device_max, device_window = tonumber(a.device_max), tonumber(a.device_window_ms)
local device_lock = tonumber(a.device_lock_ms)
local free, base, cap = tonumber(a.free_attempts), tonumber(a.backoff_base_ms), tonumber(a.backoff_max_ms)
local lock_after, lock_ms, window = tonumber(a.lock_after), tonumber(a.lock_ms), tonumber(a.window_ms)
local user_max, user_window = tonumber(a.user_max), tonumber(a.user_window_ms)
local user_lock = tonumber(a.user_lock_ms)
local REPLY = {'verdict', 'fails', 'gate', 'gate_until_ms', 'user_locks', 'device_locks',
               'user_wide_locks'}
local function reply(verdict, fails, gate, until_ms, user_locks, device_locks, wide_locks)
  return named_reply({verdict = verdict, fails = fails, gate = gate, gate_until_ms = until_ms,
                      user_locks = user_locks, device_locks = device_locks,
                      user_wide_locks = wide_locks}, REPLY)
end

local function load(key)
  local v = redis.call('HMGET', key, 'fails', 'until_ms', 'locked', 'expires_ms')
  local s = {
    fails = tonumber(v[1] or '0'), until_ms = tonumber(v[2] or '0'),
    locked = tonumber(v[3] or '0'), expires_ms = tonumber(v[4] or '0'),
  }
  if s.fails == 0 or (s.expires_ms > 0 and s.expires_ms <= now) then
    return {fails = 0, until_ms = 0, locked = 0, expires_ms = 0}
  end
  return s
end

local function save(key, s)
  redis.call('HSET', key, 'fails', s.fails, 'until_ms', s.until_ms, 'locked', s.locked,
    'expires_ms', s.expires_ms)
  if s.expires_ms == 0 then
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIRE', key, s.expires_ms - now)
  end
end

-- "locked", "backoff" or nil (open)
local function blocked(s)
  if s.locked == 1 and (s.until_ms == 0 or s.until_ms > now) then return 'locked' end
  if s.until_ms > now then return 'backoff' end
  return nil
end

local device = load(KEYS[1])
local user, wide = nil, nil
if KEYS[2] then user, wide = load(KEYS[2]), load(KEYS[3]) end
local fails = user and user.fails or 0

-- ipairs stops at the first nil: unknown users have neither user counter.
local counters = {device, wide, user}
for _, s in ipairs(counters) do
  local state = blocked(s)
  if state then return reply(state, fails, state, s.until_ms, 0, 0, 0) end
end

-- A counter that locks after max failures within its window.
local function count(s, max, window_ms, lock_for)
  if s.fails == 0 then s.expires_ms = now + window_ms end
  s.fails = s.fails + 1
  if s.fails >= max then
    s.locked, s.until_ms = 1, now + lock_for
    s.expires_ms = math.max(s.expires_ms, s.until_ms)
    return 1
  end
  return 0
end

local device_locks = count(device, device_max, device_window, device_lock)
save(KEYS[1], device)
local wide_locks = 0
if wide then
  wide_locks = count(wide, user_max, user_window, user_lock)
  save(KEYS[3], wide)
end

local user_locks = 0
if user then
  user.fails = user.fails + 1
  fails = user.fails
  if user.fails >= lock_after then
    user.locked, user_locks = 1, 1
    user.until_ms = lock_ms > 0 and now + lock_ms or 0
  elseif user.fails >= free then
    user.until_ms = now + math.floor(math.min(base * 2 ^ (user.fails - free), cap))
  else
    user.until_ms = 0
  end
  if user.locked == 1 and user.until_ms == 0 then
    user.expires_ms = 0
  else
    user.expires_ms = math.max(now + window, user.until_ms)
  end
  save(KEYS[2], user)
end

for _, s in ipairs(counters) do
  local state = blocked(s)
  if state then
    return reply('open', fails, state, s.until_ms, user_locks, device_locks, wide_locks)
  end
end
return reply('open', fails, 'open', 0, user_locks, device_locks, wide_locks)
