-- Errors raised deep in nested C calls and caught near the top: every
-- pcall, gsub callback, sort comparator and coroutine resume is a C-level
-- call of the interpreter, so with a small main stack the C stack grows
-- across linked chunks, and every error is a longjmp back over them.
-- Prints one line per kind and "ok", or fails with a message.

local DEPTH = tonumber(arg and arg[1]) or 150
local ROUNDS = tonumber(arg and arg[2]) or 200

local function resident_kib()
  local f = io.open("/proc/self/statm")
  if not f then return 0 end
  local _, pages = f:read("n", "n")
  f:close()
  return pages * 4
end

-- pcall at every level; the error is rethrown at every level on its way up.
local function dive(n)
  if n == 0 then error({depth = 0}) end
  local ok, e = pcall(dive, n - 1)
  assert(not ok and type(e) == "table")
  e.depth = e.depth + 1
  error(e)
end

-- A string.gsub callback that recurses through gsub again.
local function through_gsub(n)
  if n == 0 then error("gsub bottom") end
  return (string.gsub("x", "x", function() return through_gsub(n - 1) end))
end

-- A sort comparator that recurses through sort again.
local function through_sort(n)
  if n == 0 then error("sort bottom") end
  local t = {3, 1, 2}
  table.sort(t, function(a, b) through_sort(n - 1) return a < b end)
end

-- Coroutines resumed inside coroutines.
local function through_coroutines(n)
  if n == 0 then error("coroutine bottom") end
  local co = coroutine.wrap(function() through_coroutines(n - 1) end)
  co()
end

local function expect(f, n, pattern)
  local ok, e = pcall(f, n)
  if ok then error("no error from depth " .. n) end
  if type(e) == "table" then
    assert(e.depth == n, "depth " .. tostring(e.depth))
  elseif not string.find(e, pattern, 1, true) then
    error("unexpected error: " .. tostring(e))
  end
end

local kinds = {
  {"pcall", dive, ""},
  {"gsub", through_gsub, "gsub bottom"},
  {"sort", through_sort, "sort bottom"},
  {"coroutine", through_coroutines, "coroutine bottom"},
}

local after_first
for round = 1, ROUNDS do
  for _, k in ipairs(kinds) do
    -- C levels per step differ: stay under the interpreter's own limit.
    local n = k[1] == "pcall" and DEPTH or DEPTH // 3
    expect(k[2], n, k[3])
    if round == 1 then print(k[1] .. ": caught at depth " .. n) end
  end
  if round == 1 then after_first = resident_kib() end
end
collectgarbage()
local grown = resident_kib() - after_first
if grown > 8192 then error("resident memory grew by " .. grown .. " KiB over the rounds") end
print("ok")
