-- Give back an admitted attempt whose PIN was right (see admit.lua): the
-- user+device counter starts over; the device counter and the user's
-- counter across devices lose the attempt and, if the attempt started
-- their lock, the lock.
-- KEYS[1] the device's failure counter, KEYS[2] the user+device counter,
-- KEYS[3] the user's counter across devices
-- ARGV[1] 1 if admit.lua said this attempt started the device lock,
-- ARGV[2] 1 if it started the user's lock across devices
redis.call('DEL', KEYS[2])
local function give_back(key, started_lock)
  if tonumber(redis.call('HGET', key, 'fails') or '0') > 0 then
    redis.call('HINCRBY', key, 'fails', -1)
    if started_lock == '1' then redis.call('HSET', key, 'locked', 0, 'until_ms', 0) end
  end
end
give_back(KEYS[1], ARGV[1])
give_back(KEYS[3], ARGV[2])
return 0
