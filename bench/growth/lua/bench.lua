-- bench.lua [SCALE]: a Lua workload for the stack-check benchmark.
--
-- Recursive and table-heavy work in five parts, each printing a check value
-- so that every build of the interpreter can be compared with the others:
--   fib      naive recursive Fibonacci (Lua calls; the interpreter does not
--            recurse in C for them, but every call goes through luaD_precall)
--   nbody    a small n-body simulation (float arithmetic on table fields)
--   strings  string building: string.format, .., table.concat, gsub, rep
--   trees    binary trees of tables, and table.sort with a Lua comparator
--            (C calling back into Lua)
--   errors   error() thrown at the bottom of a recursion and caught by pcall
--            at several levels (setjmp/longjmp in the interpreter), with
--            nested pcall frames (C recursion through luaD_rawrunprotected)
-- SCALE (default 100) multiplies the amount of work; its run time grows
-- about linearly with SCALE.

local scale = tonumber(arg and arg[1]) or 100

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local function bench_fib()
  local s = 0
  for _ = 1, scale do s = s + fib(24) end
  return s
end

local function bench_nbody()
  local bodies = {}
  for i = 1, 5 do
    bodies[i] = { x = i * 1.5, y = -i * 0.5, z = i * 0.25,
                  vx = 0.01 * i, vy = -0.02 * i, vz = 0.005 * i, mass = 1 / i }
  end
  local n = #bodies
  local dt = 0.01
  for _ = 1, 2000 * scale do
    for i = 1, n do
      local bi = bodies[i]
      local bix, biy, biz, bimass = bi.x, bi.y, bi.z, bi.mass
      local bivx, bivy, bivz = bi.vx, bi.vy, bi.vz
      for j = i + 1, n do
        local bj = bodies[j]
        local dx, dy, dz = bix - bj.x, biy - bj.y, biz - bj.z
        local d2 = dx * dx + dy * dy + dz * dz + 0.01
        local mag = dt / (d2 * math.sqrt(d2))
        local bm = bj.mass * mag
        bivx, bivy, bivz = bivx - dx * bm, bivy - dy * bm, bivz - dz * bm
        bm = bimass * mag
        bj.vx, bj.vy, bj.vz = bj.vx + dx * bm, bj.vy + dy * bm, bj.vz + dz * bm
      end
      bi.vx, bi.vy, bi.vz = bivx, bivy, bivz
      bi.x, bi.y, bi.z = bix + dt * bivx, biy + dt * bivy, biz + dt * bivz
    end
  end
  local e = 0
  for i = 1, n do
    local b = bodies[i]
    e = e + 0.5 * b.mass * (b.vx * b.vx + b.vy * b.vy + b.vz * b.vz)
  end
  return string.format("%.9f", e)
end

local function bench_strings()
  local total = 0
  for k = 1, 20 * scale do
    local parts = {}
    for i = 1, 200 do
      parts[#parts + 1] = string.format("%d:%s", i * k, string.rep("x", i % 7))
    end
    local s = table.concat(parts, ",")
    local replaced, count = s:gsub("x+", function(m) return #m end)
    local acc = ""
    for i = 1, 50 do acc = acc .. tostring(i % 10) end
    total = total + #s + count + #replaced + #acc:upper()
  end
  return total
end

local function make_tree(depth)
  if depth == 0 then return { } end
  return { make_tree(depth - 1), make_tree(depth - 1) }
end

local function check_tree(t)
  if not t[1] then return 1 end
  return 1 + check_tree(t[1]) + check_tree(t[2])
end

local function bench_trees()
  local total = 0
  for _ = 1, scale do
    for d = 4, 12, 2 do
      for _ = 1, 1 << (12 - d) do
        total = total + check_tree(make_tree(d))
      end
    end
    local a = {}
    local seed = 42
    for i = 1, 3000 do
      seed = (seed * 1103515245 + 12345) % 2147483648
      a[i] = { key = seed % 100000, id = i }
    end
    table.sort(a, function(x, y)
      if x.key ~= y.key then return x.key < y.key end
      return x.id < y.id
    end)
    total = total + a[1].key + a[#a].key + a[1500].id
  end
  return total
end

local function dive(depth, fail_at)
  if depth == fail_at then error({ depth = depth }) end
  if depth >= 60 then return depth end
  return dive(depth + 1, fail_at) + 1
end

local function nested(level)
  if level == 0 then
    local ok, e = pcall(dive, 0, 40)
    return ok and 0 or e.depth
  end
  local ok, v = pcall(nested, level - 1)
  if not ok then error(v, 0) end
  return v + level
end

local function bench_errors()
  local caught, sum = 0, 0
  for i = 1, 1000 * scale do
    local ok, e = pcall(dive, 0, i % 80)
    if ok then sum = sum + e else caught = caught + 1; sum = sum + e.depth end
    sum = sum + nested(i % 20)
  end
  return caught .. "/" .. sum
end

print("fib", bench_fib())
print("nbody", bench_nbody())
print("strings", bench_strings())
print("trees", bench_trees())
print("errors", bench_errors())
