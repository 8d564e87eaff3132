-- Log user (tenant, ext) in on device; ends whatever the rules say must end.
-- KEYS[1] device hash, KEYS[2] user hash (both in the group of ARGV[1])
-- ARGV: prefix, device, tenant, ext, allow_takeover (0/1), deny_second (0/1),
--       now_ms, expires_ms (0: none), actor, stream maxlen
-- Returns {result, gen, since, expires, name, caller_id, ended...} where each ended session is
-- 7 items (device, tenant, ext, since, expires, start_gen, reason), or for
-- refusals {result, occupant...}.
local prefix, device, tenant, ext = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local takeover, deny = ARGV[5] == '1', ARGV[6] == '1'
local now, expires, actor, maxlen = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9], ARGV[10]
local dk, uk = KEYS[1], KEYS[2]

if not redis.call('HGET', dk, 'tenant') then return {'unknown_device'} end
if redis.call('HGET', dk, 'hotdesk') ~= '1' then return {'not_hotdesk_device'} end
local hotdesk_user = redis.call('HGET', uk, 'hotdesk')
if not hotdesk_user then return {'unknown_user'} end
if hotdesk_user ~= '1' then return {'not_hotdesk_user'} end

local name = redis.call('HGET', uk, 'name') or ''
local cid = redis.call('HGET', uk, 'caller_id') or ''
local ended = {}
local function add_ended(e) if e then for _, v in ipairs(e) do ended[#ended + 1] = v end end end

-- Sessions past their expiry end now, whatever happens next.
local occupant = session_of(prefix, device)
if occupant and is_expired(occupant, now) then
  add_ended(end_session(prefix, maxlen, device, 'expired', 'system', now, false))
  occupant = nil
end
local elsewhere = redis.call('HGET', uk, 'device')
if elsewhere and elsewhere ~= device then
  local s = session_of(prefix, elsewhere)
  if s and is_expired(s, now) then
    add_ended(end_session(prefix, maxlen, elsewhere, 'expired', 'system', now, false))
    elsewhere = nil
  elseif not s then
    elsewhere = nil  -- stale pointer; cannot happen through these scripts
  end
end

if occupant and occupant[1] == tenant and occupant[2] == ext then
  local gen = redis.call('HGET', dk, 'gen')
  return {'already_logged_in', gen, occupant[3], occupant[4], name, cid, unpack(ended)}
end
if occupant and not takeover then
  return {'device_occupied', device, occupant[1], occupant[2], occupant[3], occupant[4],
          redis.call('HGET', dk, 'gen')}
end
if elsewhere and deny then
  local s = session_of(prefix, elsewhere)
  return {'active_elsewhere', elsewhere, s[1], s[2], s[3], s[4],
          redis.call('HGET', dev_key(prefix, elsewhere), 'gen')}
end

if elsewhere then
  add_ended(end_session(prefix, maxlen, elsewhere, 'moved', actor, now, false))
end
local old_user, reason = '', 'login'
if occupant then
  -- One event on this device carries both sides of a takeover.
  add_ended(end_session(prefix, maxlen, device, 'takeover', actor, now, true))
  old_user, reason = occupant[1] .. '/' .. occupant[2], 'takeover'
end

local gen = redis.call('HINCRBY', dk, 'gen', 1)
redis.call('HSET', dk, 'user_tenant', tenant, 'user_ext', ext, 'since_ms', now, 'expires_ms', expires)
redis.call('HSET', uk, 'device', device, 'since_ms', now)
redis.call('SADD', prefix .. 'bound', device)
if expires > 0 then redis.call('ZADD', prefix .. 'expiry', expires, device) end
emit(prefix, maxlen, device, old_user, tenant .. '/' .. ext, reason, actor, gen, now)
return {'logged_in', gen, now, expires, name, cid, unpack(ended)}
