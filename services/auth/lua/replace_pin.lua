-- Replace a PIN hash only if it is still the one just verified, so that a
-- rehash on login cannot undo a PIN change made meanwhile.
-- KEYS[1] the PIN key; ARGV[1] the verified hash, ARGV[2] the new hash
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
