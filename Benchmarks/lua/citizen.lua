-- Valid 公民身份号码 for load generation (GB 11643 MOD 11-2).
local W = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local C = {"1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"}
function citizen(n)
  local day = n % 28 + 1
  local month = math.floor(n / 28) % 12 + 1
  local year = 1950 + math.floor(n / 336) % 50
  local seq = math.floor(n / 16800) % 1000
  local body = string.format("330203%04d%02d%02d%03d", year, month, day, seq)
  local s = 0
  for i = 1, 17 do s = s + tonumber(body:sub(i, i)) * W[i] end
  return body .. C[s % 11 + 1]
end

-- wrk setup(): give each thread its own number in the global `tid` (unique ids per thread).
local threads = {}
function number_threads(thread) thread:set("tid", #threads + 1); table.insert(threads, thread) end
