-- Shared helpers, prepended to every binding script by scripts.py.
-- All keys derive from `prefix` (the group's "hd:{group}:"), so every key a
-- script touches shares the declared keys' hash tag and Redis Cluster slot.

local function dev_key(prefix, device) return prefix .. 'dev:' .. device end
local function usr_key(prefix, tenant, ext) return prefix .. 'usr:' .. tenant .. ':' .. ext end

-- The live session on a device: {tenant, ext, since, expires} or nil.
local function session_of(prefix, device)
  local s = redis.call('HMGET', dev_key(prefix, device), 'user_tenant', 'user_ext', 'since_ms', 'expires_ms')
  if not s[1] then return nil end
  return {s[1], s[2], tonumber(s[3]) or 0, tonumber(s[4]) or 0}
end

local function is_expired(session, now)
  return session[4] > 0 and session[4] <= now
end

local function emit(prefix, maxlen, device, old_user, new_user, reason, actor, gen, now)
  local kind = 'login'
  if new_user == '' then kind = 'logout' end
  redis.call('XADD', prefix .. 'events', 'MAXLEN', '~', maxlen, '*',
    'type', kind, 'device', device,
    'device_tenant', redis.call('HGET', dev_key(prefix, device), 'tenant') or '',
    'old_user', old_user, 'new_user', new_user, 'reason', reason, 'actor', actor,
    'gen', gen, 'ts_ms', now)
end

-- End the session on `device` (if any): clear both sides, bump the device's
-- generation and, unless `new_user` follows at once, emit the logout event.
-- Returns the ended session as a flat list for the caller, or nil.
local function end_session(prefix, maxlen, device, reason, actor, now, quiet)
  local s = session_of(prefix, device)
  if not s then return nil end
  local dk = dev_key(prefix, device)
  local start_gen = tonumber(redis.call('HGET', dk, 'gen') or '0')
  redis.call('HDEL', dk, 'user_tenant', 'user_ext', 'since_ms', 'expires_ms')
  local uk = usr_key(prefix, s[1], s[2])
  if redis.call('HGET', uk, 'device') == device then
    redis.call('HDEL', uk, 'device', 'since_ms')
  end
  redis.call('SREM', prefix .. 'bound', device)
  redis.call('ZREM', prefix .. 'expiry', device)
  if not quiet then
    local gen = redis.call('HINCRBY', dk, 'gen', 1)
    emit(prefix, maxlen, device, s[1] .. '/' .. s[2], '', reason, actor, gen, now)
  end
  return {device, s[1], s[2], s[3], s[4], start_gen, reason}
end
