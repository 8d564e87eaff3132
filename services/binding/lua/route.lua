-- Kamailio's lookup, read-only. One or both sides, as ARGV[1] says.
-- mode "c": KEYS[1] caller device; "u": KEYS[1] callee user;
-- "cu": KEYS[1] caller device, KEYS[2] callee user (same group).
-- ARGV: mode, prefix, now_ms
-- Caller part (7 items): device tenant ('' unknown), hotdesk, emergency_cid,
--   then for a live session user tenant, extension, name, caller_id ('' idle).
-- Callee part (3 items): hotdesk ('' unknown), then for a live session the
--   device and its tenant ('' logged out).
local mode, prefix, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
local k = 1
if mode ~= 'u' then
  local d = redis.call('HMGET', KEYS[k], 'tenant', 'hotdesk', 'emergency_cid',
                       'user_tenant', 'user_ext', 'expires_ms')
  k = k + 1
  local user_tenant, ext, name, cid = '', '', '', ''
  if d[4] and not is_past(tonumber(d[6]) or 0, now) then
    user_tenant, ext = d[4], d[5]
    local u = redis.call('HMGET', usr_key(prefix, d[4], d[5]), 'name', 'caller_id')
    name, cid = u[1] or '', u[2] or ''
  end
  out = {d[1] or '', d[2] or '', d[3] or '', user_tenant, ext, name, cid}
end
if mode ~= 'c' then
  local u = redis.call('HMGET', KEYS[k], 'hotdesk', 'device')
  local device, device_tenant = '', ''
  if u[2] then
    local d = redis.call('HMGET', dev_key(prefix, u[2]), 'tenant', 'expires_ms')
    if not is_past(tonumber(d[2]) or 0, now) then
      device, device_tenant = u[2], d[1] or ''
    end
  end
  out[#out + 1] = u[1] or ''
  out[#out + 1] = device
  out[#out + 1] = device_tenant
end
return out
