-- End a session, named by its device or by its user.
-- KEYS[1] the device hash (mode "device") or the user hash (mode "user")
-- ARGV: prefix, mode, device id (mode "device"; read from the user hash
--       otherwise), reason, actor, now_ms, stream maxlen
-- Returns {result, ended}: "logged_out" with the ended session,
-- "not_logged_in" (ended holds the session if it had just expired), or
-- "unknown" (no such device or user).
local prefix, mode, device, reason, actor = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now, maxlen = tonumber(ARGV[6]), ARGV[7]
local session
if mode == 'user' then
  local u = redis.call('HMGET', KEYS[1], 'hotdesk', 'device')
  if not u[1] then return {'unknown', {}} end
  if not u[2] then return {'not_logged_in', {}} end
  device = u[2]
  session = session_of(prefix, device)
  if session and usr_key(prefix, session[1], session[2]) ~= KEYS[1] then session = nil end
else
  if not redis.call('HGET', KEYS[1], 'tenant') then return {'unknown', {}} end
  session = session_of(prefix, device)
end
if not session then return {'not_logged_in', {}} end
if is_expired(session, now) then
  return {'not_logged_in', {end_session(prefix, maxlen, device, session, 'expired', 'system', now, false)}}
end
return {'logged_out', {end_session(prefix, maxlen, device, session, reason, actor, now, false)}}
