-- End up to `limit` sessions of the group whose expiry has passed.
-- KEYS[1] the group's expiry sorted set
-- ARGV, named fields: prefix, now_ms, maxlen (of the event stream), limit
-- Returns named fields due, ended: how many index entries were due (the
-- caller repeats while that reaches the limit) and the sessions ended.
local a = named_args(ARGV, {'prefix', 'now_ms', 'maxlen', 'limit'})
local prefix, now, maxlen, limit = a.prefix, tonumber(a.now_ms), a.maxlen, a.limit
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
local ended = {}
for _, device in ipairs(due) do
  local session = session_of(prefix, device)
  if session and is_expired(session, now) then
    ended[#ended + 1] = end_session(prefix, maxlen, device, session, 'expired', 'system', now, false)
  else
    redis.call('ZREM', KEYS[1], device)  -- stale index entry
  end
end
return named_reply({due = #due, ended = ended}, {'due', 'ended'})
