-- wrk request generator for the Kamailio-facing lookup: a random caller
-- device and a random callee out of N each time, so the lookups spread over
-- the whole keyspace instead of hitting one hot key.
local n = tonumber(os.getenv("HOTDESK_BENCH_N") or "1000")
local domain = os.getenv("HOTDESK_BENCH_DOMAIN") or "bench.example"
local first_ext = tonumber(os.getenv("HOTDESK_BENCH_FIRST_EXT") or "100000")

function setup(thread)
  math.randomseed(os.time() + tonumber(tostring(thread):match("0x(%x+)") or "0", 16))
end

request = function()
  local d = math.random(0, n - 1)
  local u = math.random(0, n - 1)
  return wrk.format("GET", string.format(
    "/v1/route?caller_user=bd%d&caller_domain=%s&callee_user=%d&callee_domain=%s",
    d, domain, first_ext + u, domain))
end
