-- What a device's file is made of, read in one step (read-only).
-- KEYS[1] the device hash, KEYS[2] its provisioning status hash (same group)
-- ARGV, named fields: prefix (the group's key prefix), now_ms
-- Returns named fields: mac ('' for no such device), vendor, model, hotdesk,
-- generation; for a live session (kernel.sessions' rule) user_tenant,
-- extension, name, caller_id and profile (the user's stored profile JSON for
-- the device's "<vendor>/<model>", as profiles.model_field names it; ''
-- for none yet), else '' for each; session_expires_ms (when the live
-- session ends, 0: never or none); fetched_generation (-1: never fetched).
local a = named_args(ARGV, {'prefix', 'now_ms'})
local d = redis.call('HMGET', KEYS[1], 'mac', 'vendor', 'model', 'hotdesk', SESSION_GEN,
                     SESSION_TENANT, SESSION_EXT, SESSION_SINCE, SESSION_EXPIRES)
local out = {mac = d[1] or '', vendor = d[2] or '', model = d[3] or '', hotdesk = d[4] or '',
             generation = tonumber(d[5]) or 0, user_tenant = '', extension = '', name = '',
             caller_id = '', profile = '', session_expires_ms = 0,
             fetched_generation = tonumber(redis.call('HGET', KEYS[2], 'fetched_gen') or '-1')}
local session = live_session({d[6], d[7], d[8], d[9]}, tonumber(a.now_ms))
if d[1] and session then
  local user = a.prefix .. 'usr:' .. session[1] .. ':' .. session[2]
  local u = redis.call('HMGET', user, 'name', 'caller_id')
  local profiles = a.prefix .. 'profiles:' .. session[1] .. ':' .. session[2]
  out.user_tenant, out.extension, out.name, out.caller_id = session[1], session[2], u[1] or '', u[2] or ''
  out.profile = redis.call('HGET', profiles, out.vendor .. '/' .. out.model) or ''
  out.session_expires_ms = session[4]
end
return named_reply(out, {'mac', 'vendor', 'model', 'hotdesk', 'generation', 'user_tenant',
                         'extension', 'name', 'caller_id', 'profile', 'session_expires_ms',
                         'fetched_generation'})
