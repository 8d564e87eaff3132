-- Shared helpers, prepended to every binding script by scripts.py.
-- All keys derive from `prefix` (the group's "hd:{group}:"), so every key a
-- script touches shares the declared keys' hash tag and Redis Cluster slot.

local function dev_key(prefix, device) return prefix .. 'dev:' .. device end
local function usr_key(prefix, tenant, ext) return prefix .. 'usr:' .. tenant .. ':' .. ext end

-- The session on a device, expired or not: {tenant, ext, since, expires} or nil.
local function session_of(prefix, device)
  local s = redis.call('HMGET', dev_key(prefix, device), 'user_tenant', 'user_ext', 'since_ms', 'expires_ms')
  if not s[1] then return nil end
  return {s[1], s[2], tonumber(s[3]) or 0, tonumber(s[4]) or 0}
end

-- An expiry of 0 means none.
local function is_past(expires_ms, now)
  return expires_ms > 0 and expires_ms <= now
end

local function is_expired(session, now) return is_past(session[4], now) end

local function gen_of(prefix, device)
  return tonumber(redis.call('HGET', dev_key(prefix, device), 'gen') or '0')
end

-- A session in the shape scripts.py decodes into a Binding: device,
-- device_tenant, tenant, ext, name, caller_id, since, expires, gen, reason.
local function binding_of(prefix, device, session, gen, reason)
  local u = redis.call('HMGET', usr_key(prefix, session[1], session[2]), 'name', 'caller_id')
  return {device, redis.call('HGET', dev_key(prefix, device), 'tenant') or '',
          session[1], session[2], u[1] or '', u[2] or '', session[3], session[4], gen, reason}
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

-- End `session` (as read by session_of) on `device`: clear both sides and the
-- indexes; unless `quiet` (a takeover, whose login event tells both sides),
-- bump the device's generation and emit the logout event.
-- Returns the ended session (binding_of, with the generation it started at).
local function end_session(prefix, maxlen, device, session, reason, actor, now, quiet)
  local ended = binding_of(prefix, device, session, gen_of(prefix, device), reason)
  local dk = dev_key(prefix, device)
  redis.call('HDEL', dk, 'user_tenant', 'user_ext', 'since_ms', 'expires_ms')
  local uk = usr_key(prefix, session[1], session[2])
  if redis.call('HGET', uk, 'device') == device then
    redis.call('HDEL', uk, 'device', 'since_ms')
  end
  redis.call('SREM', prefix .. 'bound', device)
  redis.call('ZREM', prefix .. 'expiry', device)
  if not quiet then
    local gen = redis.call('HINCRBY', dk, 'gen', 1)
    emit(prefix, maxlen, device, session[1] .. '/' .. session[2], '', reason, actor, gen, now)
  end
  return ended
end
