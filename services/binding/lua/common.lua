-- Shared helpers, put after the kernel's prelude (named fields, the session
-- fields and rule: services/kernel/lua.py, sessions.py) in front of every
-- binding script by scripts.py.
-- All keys derive from `prefix` (the group's "hd:{group}:"), so every key a
-- script touches shares the declared keys' hash tag and Redis Cluster slot.

local function dev_key(prefix, device) return prefix .. 'dev:' .. device end
local function usr_key(prefix, tenant, ext) return prefix .. 'usr:' .. tenant .. ':' .. ext end

-- The session on a device, expired or not: {tenant, ext, since, expires} or nil.
local function session_of(prefix, device)
  local s = redis.call('HMGET', dev_key(prefix, device), SESSION_TENANT, SESSION_EXT,
                       SESSION_SINCE, SESSION_EXPIRES)
  if not s[2] or s[2] == '' then return nil end
  return {s[1] or '', s[2], tonumber(s[3]) or 0, tonumber(s[4]) or 0}
end

local function is_expired(session, now) return is_past(session[4], now) end

-- Kamailio's route cache reuses a lookup's caller half while the device's
-- field here is unchanged, and its callee half while the user's is: every
-- session that starts or ends bumps both (kamailio.cfg route[HOTDESK_CACHED]).
local function bump_route_generations(prefix, device, tenant, ext)
  redis.call('HINCRBY', prefix .. 'routegen', 'dev:' .. device, 1)
  redis.call('HINCRBY', prefix .. 'routegen', 'usr:' .. tenant .. ':' .. ext, 1)
end

local function gen_of(prefix, device)
  return tonumber(redis.call('HGET', dev_key(prefix, device), SESSION_GEN) or '0')
end

-- The fields of a session as scripts.py decodes it into a Binding.
local BINDING = {'device', 'device_tenant', 'tenant', 'extension', 'name', 'caller_id',
                 'since_ms', 'expires_ms', 'generation'}
local ENDED = {'device', 'device_tenant', 'tenant', 'extension', 'name', 'caller_id',
               'since_ms', 'expires_ms', 'generation', 'reason'}

-- A session as named fields (BINDING; ENDED when `reason` is given).
local function binding_of(prefix, device, session, gen, reason)
  local u = redis.call('HMGET', usr_key(prefix, session[1], session[2]), 'name', 'caller_id')
  local b = {device = device, device_tenant = redis.call('HGET', dev_key(prefix, device), 'tenant') or '',
             tenant = session[1], extension = session[2], name = u[1] or '', caller_id = u[2] or '',
             since_ms = session[3], expires_ms = session[4], generation = gen, reason = reason}
  if reason then return named_reply(b, ENDED) end
  return named_reply(b, BINDING)
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
-- Returns the ended session (binding_of with its reason, at the generation
-- it started at).
local function end_session(prefix, maxlen, device, session, reason, actor, now, quiet)
  local ended = binding_of(prefix, device, session, gen_of(prefix, device), reason)
  local dk = dev_key(prefix, device)
  redis.call('HDEL', dk, SESSION_TENANT, SESSION_EXT, SESSION_SINCE, SESSION_EXPIRES)
  local uk = usr_key(prefix, session[1], session[2])
  if redis.call('HGET', uk, USER_DEVICE) == device then
    redis.call('HDEL', uk, USER_DEVICE, 'since_ms')
  end
  redis.call('SREM', prefix .. 'bound', device)
  redis.call('ZREM', prefix .. 'expiry', device)
  bump_route_generations(prefix, device, session[1], session[2])
  if not quiet then
    local gen = redis.call('HINCRBY', dk, SESSION_GEN, 1)
    emit(prefix, maxlen, device, session[1] .. '/' .. session[2], '', reason, actor, gen, now)
  end
  return ended
end
