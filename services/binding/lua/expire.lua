-- End up to ARGV[4] sessions of the group whose expiry has passed.
-- KEYS[1] the group's expiry sorted set
-- ARGV: prefix, now_ms, stream maxlen, limit
-- Returns {due, ended}: how many index entries were due (the caller repeats
-- while that reaches the limit) and the sessions ended.
local prefix, now, maxlen, limit = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
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
return {#due, ended}
