-- Count one failure on the counter KEYS[1], which lives ARGV[1] ms from its
-- first failure (a fixed window). Returns the count in the window.
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
