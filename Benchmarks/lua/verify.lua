-- wrk: verifications (POST /v1/verify) of two claims each about persons that exist
-- (published by publish.lua's first thread): a true name and a true region code.
package.path = package.path .. ";" .. (os.getenv("LUA_DIR") or "Benchmarks/lua") .. "/?.lua"
require "citizen"
local max = tonumber(os.getenv("READ_MAX") or "1000")
function request()
  local n = 10000000 + math.random(1, max)
  local body = string.format('{"subject":"person/%s","claims":{"name":"压测%d","regionCode":"330203"}}', citizen(n), n)
  return wrk.format("POST", "/v1/verify", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
