-- Kamailio's lookup, read-only. One or both sides, as ARGV[1] says.
-- mode "c": KEYS[1] caller device; "u": KEYS[1] callee user;
-- "cu": KEYS[1] caller device, KEYS[2] callee user (same group).
-- ARGV: mode, prefix, now_ms, and "e" for an emergency call (the caller
-- part then also has the desk's location).
-- Returns one part per side asked for (caller first), each a flat list of
-- field names and values ('' where unknown or unset):
--   caller: device_tenant, hotdesk, emergency_cid, and for a live session
--           user_tenant, extension, name, caller_id ('' on an idle device);
--           with "e", location: the session's location if one was set for
--           the live session (the device's generation unchanged since), else
--           the directory's (JSON, '' for none)
--   callee: hotdesk ('' for no such user), unavailable (her own rule, JSON),
--           and for a live session device, device_tenant ('' logged out)
-- and in both, read with the rest: route_gen (the device's or the user's
-- field of the group's routegen hash, '' never bumped) and expires (the
-- live session's expiry in ms, '0' none or no session).
local mode, prefix, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local parts = {}
local k = 1
-- A device's or user's field in the group's routegen hash, named after its
-- key (the part after "<prefix>dev:" or "<prefix>usr:").
local function route_gen(kind, key)
  return redis.call('HGET', prefix .. 'routegen', kind .. key:sub(#prefix + 5)) or ''
end
if mode ~= 'u' then
  local d = redis.call('HMGET', KEYS[k], 'tenant', 'hotdesk', 'emergency_cid',
                       SESSION_TENANT, SESSION_EXT, SESSION_SINCE, SESSION_EXPIRES)
  k = k + 1
  local user_tenant, ext, name, cid, expires = '', '', '', '', 0
  local session = live_session({d[4], d[5], d[6], d[7]}, now)
  if session then
    user_tenant, ext, expires = session[1], session[2], session[4]
    local u = redis.call('HMGET', usr_key(prefix, user_tenant, ext), 'name', 'caller_id')
    name, cid = u[1] or '', u[2] or ''
  end
  local part = {'device_tenant', d[1] or '', 'hotdesk', d[2] or '',
                'emergency_cid', d[3] or '', 'user_tenant', user_tenant,
                'extension', ext, 'name', name, 'caller_id', cid,
                'route_gen', route_gen('dev:', KEYS[k - 1]), 'expires', string.format('%d', expires)}
  if ARGV[4] == 'e' then
    local l = redis.call('HMGET', KEYS[k - 1], 'location', 'gen', 'session_location',
                         'session_location_gen')
    local location = l[1] or ''
    if ext ~= '' and l[3] and l[4] == (l[2] or '0') then location = l[3] end
    part[#part + 1] = 'location'
    part[#part + 1] = location
  end
  parts[#parts + 1] = part
end
if mode ~= 'c' then
  local u = redis.call('HMGET', KEYS[k], 'hotdesk', 'unavailable', USER_DEVICE)
  local device, device_tenant, expires = '', '', 0
  if u[3] then
    local d = redis.call('HMGET', dev_key(prefix, u[3]), 'tenant', SESSION_TENANT, SESSION_EXT,
                         SESSION_SINCE, SESSION_EXPIRES)
    local session = live_session({d[2], d[3], d[4], d[5]}, now)
    if session and usr_key(prefix, session[1], session[2]) == KEYS[k] then
      device, device_tenant, expires = u[3], d[1] or '', session[4]
    end
  end
  parts[#parts + 1] = {'hotdesk', u[1] or '', 'unavailable', u[2] or '',
                       'device', device, 'device_tenant', device_tenant,
                       'route_gen', route_gen('usr:', KEYS[k]), 'expires', string.format('%d', expires)}
end
return parts
