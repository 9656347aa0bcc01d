-- wrk: golden-record reads of persons that exist (published by publish.lua's first thread).
package.path = package.path .. ";" .. (os.getenv("LUA_DIR") or "Benchmarks/lua") .. "/?.lua"
require "citizen"
local max = tonumber(os.getenv("READ_MAX") or "1000")
function request()
  local n = 10000000 + math.random(1, max)
  return wrk.format("GET", "/v1/persons/" .. citizen(n), {["Authorization"] = "Bearer " .. os.getenv("TOKEN")})
end
