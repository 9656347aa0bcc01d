-- Valid 公民身份号码 for load generation (GB 11643 MOD 11-2).
local W = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local C = {"1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"}
-- The region 330203's digits, weighted: every generated number is in that district.
local REGION = 3 * 7 + 3 * 9 + 0 * 10 + 2 * 5 + 0 * 8 + 3 * 4

-- The weighted sum of the `count` decimal digits of `v`, the first at weight W[first].
local function weighted(v, count, first)
  local s = 0
  for i = first + count - 1, first, -1 do
    s = s + (v % 10) * W[i]
    v = math.floor(v / 10)
  end
  return s
end

-- The checksum from the digits' values, not from a substring per digit: the load generator
-- runs beside the server on the same cores, and a bulk request makes a thousand of these.
function citizen(n)
  local day = n % 28 + 1
  local month = math.floor(n / 28) % 12 + 1
  local year = 1950 + math.floor(n / 336) % 50
  local seq = math.floor(n / 16800) % 1000
  local s = REGION + weighted(year, 4, 7) + weighted(month, 2, 11) + weighted(day, 2, 13) + weighted(seq, 3, 15)
  return string.format("330203%04d%02d%02d%03d%s", year, month, day, seq, C[s % 11 + 1])
end

-- wrk setup(): give each thread its own number in the global `tid` (unique ids per thread).
local threads = {}
function number_threads(thread) thread:set("tid", #threads + 1); table.insert(threads, thread) end
-- wrk done(): the threads setup() numbered.
function numbered_threads() return threads end
