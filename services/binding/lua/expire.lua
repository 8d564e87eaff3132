-- End up to ARGV[4] sessions of the group whose expiry has passed.
-- KEYS[1] the group's expiry sorted set
-- ARGV: prefix, now_ms, maxlen, limit
-- Returns the ended sessions, 7 items each.
local prefix, now, maxlen, limit = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
local ended = {}
for _, device in ipairs(due) do
  local s = session_of(prefix, device)
  if s and is_expired(s, now) then
    for _, v in ipairs(end_session(prefix, maxlen, device, 'expired', 'system', now, false)) do
      ended[#ended + 1] = v
    end
  else
    redis.call('ZREM', KEYS[1], device)  -- stale index entry
  end
end
return ended
