-- wrk: NDJSON bodies of 1000 events each.
package.path = package.path .. ";" .. (os.getenv("LUA_DIR") or "Benchmarks/lua") .. "/?.lua"
require "citizen"
-- Events are numbered from BULK_FIRST (0 unless set) in every run: a second run against the
-- same server sends the first run's events again, which the hub answers as duplicates, unless
-- it starts past them (BULK_FIRST=2000000).
local counter = tonumber(os.getenv("BULK_FIRST") or "0")
setup = number_threads
function request()
  local t = tonumber(tid) or 0
  local lines = {}
  for i = 1, 1000 do
    counter = counter + 1
    local n = 500000000 + t * 10000000 + counter
    lines[i] = string.format('{"specversion":"1.0","id":"bulk-%d-%d","source":"gongan","type":"person.updated","subject":"person/%s","time":"2026-11-20T08:00:00+08:00","data":{"name":"批量%d","regionCode":"330203"}}', t, counter, citizen(n), n)
  end
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/x-ndjson", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, table.concat(lines, "\n"))
end
