-- Log user (tenant, ext) in on device; ends whatever the rules say must end.
-- KEYS[1] device hash, KEYS[2] user hash (both in the group of `prefix`)
-- ARGV, named fields: prefix, device, tenant, extension, allow_takeover
--       (0/1), deny_second (0/1), now_ms, expires_ms (0: none), actor, maxlen
--       (of the event stream)
-- Returns named fields result, session, ended: session is the new or
-- existing session, or the occupant with device_occupied/active_elsewhere,
-- else {}; ended lists the sessions this call ended (refusals still end
-- expired ones).
local a = named_args(ARGV, {'prefix', 'device', 'tenant', 'extension', 'allow_takeover',
                            'deny_second', 'now_ms', 'expires_ms', 'actor', 'maxlen'})
local prefix, device, tenant, ext = a.prefix, a.device, a.tenant, a.extension
local takeover, deny = a.allow_takeover == '1', a.deny_second == '1'
local now, expires, actor, maxlen = tonumber(a.now_ms), tonumber(a.expires_ms), a.actor, a.maxlen
local REPLY = {'result', 'session', 'ended'}
local function reply(result, session, ended)
  return named_reply({result = result, session = session, ended = ended}, REPLY)
end
local dk, uk = KEYS[1], KEYS[2]
local ended = {}

if not redis.call('HGET', dk, 'tenant') then return reply('unknown_device', {}, ended) end
local hotdesk_user = redis.call('HGET', uk, 'hotdesk')
if not hotdesk_user then return reply('unknown_user', {}, ended) end
if redis.call('HGET', dk, 'hotdesk') ~= '1' then return reply('not_hotdesk_device', {}, ended) end
if hotdesk_user ~= '1' then return reply('not_hotdesk_user', {}, ended) end

-- Sessions past their expiry end now, whatever happens next.
local occupant = session_of(prefix, device)
if occupant and is_expired(occupant, now) then
  ended[#ended + 1] = end_session(prefix, maxlen, device, occupant, 'expired', 'system', now, false)
  occupant = nil
end
local elsewhere = redis.call('HGET', uk, USER_DEVICE)
local other = nil  -- the user's session on another device
if elsewhere and elsewhere ~= device then
  other = session_of(prefix, elsewhere)
  if other and usr_key(prefix, other[1], other[2]) ~= uk then other = nil end
  if other and is_expired(other, now) then
    ended[#ended + 1] = end_session(prefix, maxlen, elsewhere, other, 'expired', 'system', now, false)
    other = nil
  end
end

if occupant and occupant[1] == tenant and occupant[2] == ext then
  return reply('already_logged_in', binding_of(prefix, device, occupant, gen_of(prefix, device)), ended)
end
if occupant and not takeover then
  return reply('device_occupied', binding_of(prefix, device, occupant, gen_of(prefix, device)), ended)
end
if other and deny then
  return reply('active_elsewhere', binding_of(prefix, elsewhere, other, gen_of(prefix, elsewhere)), ended)
end

if other then
  ended[#ended + 1] = end_session(prefix, maxlen, elsewhere, other, 'moved', actor, now, false)
end
local old_user, reason = '', 'login'
if occupant then
  ended[#ended + 1] = end_session(prefix, maxlen, device, occupant, 'takeover', actor, now, true)
  old_user, reason = occupant[1] .. '/' .. occupant[2], 'takeover'
end

local gen = redis.call('HINCRBY', dk, SESSION_GEN, 1)
redis.call('HSET', dk, SESSION_TENANT, tenant, SESSION_EXT, ext, SESSION_SINCE, now,
           SESSION_EXPIRES, expires)
redis.call('HSET', uk, USER_DEVICE, device, 'since_ms', now)
redis.call('SADD', prefix .. 'bound', device)
bump_route_generations(prefix, device, tenant, ext)
if expires > 0 then redis.call('ZADD', prefix .. 'expiry', expires, device) end
emit(prefix, maxlen, device, old_user, tenant .. '/' .. ext, reason, actor, gen, now)
return reply('logged_in', binding_of(prefix, device, {tenant, ext, now, expires}, gen), ended)
