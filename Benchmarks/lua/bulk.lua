-- wrk: NDJSON bodies of 1000 events each.
package.path = package.path .. ";" .. (os.getenv("LUA_DIR") or "Benchmarks/lua") .. "/?.lua"
require "citizen"
-- Events are numbered from BULK_FIRST (0 unless set) in every run: a second run against the
-- same server sends the first run's events again, which the hub answers as duplicates, unless
-- it starts past them (BULK_FIRST=2000000).
local counter = tonumber(os.getenv("BULK_FIRST") or "0")
-- With BULK_BODIES=PREFIX, each thread sends the bodies Tools/bulkgen.py wrote to PREFIX.<tid>
-- (the same bytes this script builds, numbered from the same BULK_FIRST), as a department's
-- sync client sends records it already holds. Building a body takes wrk about half a
-- millisecond of a core the hub also runs on, between one request's answer and the next
-- request: each connection's cycle then includes the load generator's own work. Past the file's end, bodies
-- are built here again; done() reports how many.
-- The counts are globals: done() reads them from each thread with thread:get.
local bodies
bodies_read, bodies_built = 0, 0
local headers = {["Content-Type"] = "application/x-ndjson", ["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "")}

setup = number_threads

local build

function init(args)
  local prefix = os.getenv("BULK_BODIES")
  if prefix then
    local path = prefix .. "." .. tostring(tid)
    bodies = assert(io.open(path, "rb"))
    local first = tonumber((bodies:read("*l") or ""):match("^first (%d+)$"))
    if first ~= counter then
      error(string.format("%s: bodies numbered after %s, BULK_FIRST is %d", path, tostring(first), counter))
    end
    -- The file's first body (if it holds any) must be the one built here: the same load,
    -- read or built.
    local start = bodies:seek()
    local length = bodies:read("*l")
    if length and bodies:read(tonumber(length)) ~= build() then
      error(path .. ": its first body is not the one bulk.lua builds")
    end
    counter = first
    bodies:seek("set", start)
  end
end

function build()
  local t = tonumber(tid) or 0
  local lines = {}
  for i = 1, 1000 do
    counter = counter + 1
    local n = 500000000 + t * 10000000 + counter
    lines[i] = string.format('{"specversion":"1.0","id":"bulk-%d-%d","source":"gongan","type":"person.updated","subject":"person/%s","time":"2026-11-20T08:00:00+08:00","data":{"name":"批量%d","regionCode":"330203"}}', t, counter, citizen(n), n)
  end
  return table.concat(lines, "\n")
end

function request()
  local body
  if bodies then
    local length = bodies:read("*l")
    if length then
      body = bodies:read(tonumber(length))
      counter = counter + 1000
      bodies_read = bodies_read + 1
    else
      bodies:close()
      bodies = nil
    end
  end
  if not body then
    body = build()
    bodies_built = bodies_built + 1
  end
  return wrk.format("POST", "/v1/events", headers, body)
end

-- One line for the suite: bodies read from the files and built during the run, all threads.
function done(summary, latency, requests)
  if not os.getenv("BULK_BODIES") then return end
  local r, b = 0, 0
  for _, thread in ipairs(numbered_threads()) do
    r = r + (tonumber(thread:get("bodies_read")) or 0)
    b = b + (tonumber(thread:get("bodies_built")) or 0)
  end
  io.write(string.format("bulk.lua bodies: %d read, %d built\n", r, b))
end
