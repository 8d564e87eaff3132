-- End the session on a device.
-- KEYS[1] device hash
-- ARGV: prefix, device, reason, actor, now_ms, maxlen, expected user
--       ("tenant/ext", or "" for whoever is on it)
-- Returns {'logged_out', ended...} or {'not_logged_in'} or {'unknown'}.
local prefix, device, reason, actor = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, maxlen, expected = tonumber(ARGV[5]), ARGV[6], ARGV[7]
if not redis.call('HGET', KEYS[1], 'tenant') then return {'unknown'} end
local s = session_of(prefix, device)
if not s then return {'not_logged_in'} end
if expected ~= '' and expected ~= s[1] .. '/' .. s[2] then return {'not_logged_in'} end
if is_expired(s, now) then
  end_session(prefix, maxlen, device, 'expired', 'system', now, false)
  return {'not_logged_in'}
end
return {'logged_out', unpack(end_session(prefix, maxlen, device, reason, actor, now, false))}
