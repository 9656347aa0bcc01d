-- wrk: durable single-event publishes, unique ids per thread and request.
package.path = package.path .. ";" .. (os.getenv("LUA_DIR") or "Benchmarks/lua") .. "/?.lua"
require "citizen"
local counter = 0
-- Several wrk processes at once (one per cluster node) each take their own ID_PREFIX.
local prefix = os.getenv("ID_PREFIX") or "wrk"
setup = number_threads
function request()
  counter = counter + 1
  local t = tonumber(tid) or 0
  local n = t * 10000000 + counter
  local body = string.format('{"specversion":"1.0","id":"%s-%d-%d","source":"gongan","type":"person.updated","subject":"person/%s","time":"2026-11-20T08:00:00+08:00","data":{"name":"压测%d","regionCode":"330203"}}', prefix, t, counter, citizen(n), n)
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/cloudevents+json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
