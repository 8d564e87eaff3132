-- Give back an admitted attempt whose PIN was right (see admit.lua): the
-- user+device counter starts over; the device counter loses the attempt and,
-- if the attempt started the device lock, the lock.
-- KEYS[1] the device's failure counter, KEYS[2] the user+device counter
-- ARGV[1] 1 if admit.lua said this attempt started the device lock
redis.call('DEL', KEYS[2])
if tonumber(redis.call('HGET', KEYS[1], 'fails') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'fails', -1)
  if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'locked', 0, 'until_ms', 0) end
end
return 0
