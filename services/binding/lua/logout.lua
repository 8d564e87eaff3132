-- End a session, named by its device or by its user.
-- KEYS[1] the device hash (mode "device") or the user hash (mode "user")
-- ARGV, named fields: prefix, mode, device (the id with mode "device"; ''
--       and read from the user hash otherwise), reason, actor, now_ms, maxlen
--       (of the event stream)
-- Returns named fields result, ended: "logged_out" with the ended session,
-- "not_logged_in" (ended holds the session if it had just expired), or
-- "unknown" (no such device or user).
local a = named_args(ARGV, {'prefix', 'mode', 'device', 'reason', 'actor', 'now_ms', 'maxlen'})
local prefix, mode, device, reason, actor = a.prefix, a.mode, a.device, a.reason, a.actor
local now, maxlen = tonumber(a.now_ms), a.maxlen
local function reply(result, ended)
  return named_reply({result = result, ended = ended}, {'result', 'ended'})
end
local session
if mode == 'user' then
  local u = redis.call('HMGET', KEYS[1], 'hotdesk', USER_DEVICE)
  if not u[1] then return reply('unknown', {}) end
  if not u[2] then return reply('not_logged_in', {}) end
  device = u[2]
  session = session_of(prefix, device)
  if session and usr_key(prefix, session[1], session[2]) ~= KEYS[1] then session = nil end
else
  if not redis.call('HGET', KEYS[1], 'tenant') then return reply('unknown', {}) end
  session = session_of(prefix, device)
end
if not session then return reply('not_logged_in', {}) end
if is_expired(session, now) then
  return reply('not_logged_in', {end_session(prefix, maxlen, device, session, 'expired', 'system', now, false)})
end
return reply('logged_out', {end_session(prefix, maxlen, device, session, reason, actor, now, false)})
