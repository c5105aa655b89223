-- wrk driver for scripts/bench: builds the requests of one benchmark row, counts response
-- statuses, and prints one parseable result line from done().
--
--   wrk -t2 -c64 -d10s -s scripts/bench.lua http://127.0.0.1:PORT -- ROW USERS_FILE PREFIX
--
-- ROW is one of: baseline, balance, balance-key, chat, chat-hot, login, register.
-- USERS_FILE has one "username password access_token api_key" line per user (not read for
-- baseline and register). PREFIX makes register's usernames unique to this run.
--
-- wrk runs one Lua state per thread plus one for setup() and done(): globals set in request() or
-- response() live in their thread's state only. setup() keeps every thread handle so that done()
-- can read each thread's status counts back with thread:get().

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

local json = { ["Content-Type"] = "application/json" }
local prepared = {} -- requests built once in init(), served in rotation
local sent = 0
local row, prefix

-- Every status seen by this thread: a global, so that done() can fetch it with thread:get().
statuses = {}

local function read_users(path)
  local users = {}
  for line in io.lines(path) do
    local name, password, token, key = line:match("^(%S+) (%S+) (%S+) (%S+)$")
    if name then
      table.insert(users, { name = name, password = password, token = token, key = key })
    end
  end
  assert(#users > 0, "no users in " .. path)
  return users
end

local function authorized(token)
  return { ["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json" }
end

local builders = {
  baseline = function(_)
    return { wrk.format("GET", "/token_balance/") }
  end,
  balance = function(users)
    local list = {}
    for _, user in ipairs(users) do
      table.insert(list, wrk.format("GET", "/token_balance/", authorized(user.token)))
    end
    return list
  end,
  ["balance-key"] = function(users)
    local list = {}
    for _, user in ipairs(users) do
      table.insert(list, wrk.format("GET", "/token_balance/", authorized(user.key)))
    end
    return list
  end,
  chat = function(users)
    local list = {}
    for _, user in ipairs(users) do
      table.insert(list, wrk.format("POST", "/chatView/", authorized(user.token),
        '{"message": "Hello, how are you?"}'))
    end
    return list
  end,
  ["chat-hot"] = function(users)
    return { wrk.format("POST", "/chatView/", authorized(users[1].token),
      '{"message": "Hello, how are you?"}') }
  end,
  login = function(users)
    local list = {}
    for _, user in ipairs(users) do
      table.insert(list, wrk.format("POST", "/login/", json, string.format(
        '{"username": "%s", "password": "%s"}', user.name, user.password)))
    end
    return list
  end,
}

function init(args)
  row, prefix = args[1], args[3] or "bench"
  if row == "register" then
    return -- built per request in request(): every name must be new
  end
  local build = builders[row]
  assert(build, "unknown row " .. tostring(row))
  prepared = build(row ~= "baseline" and read_users(args[2]) or nil)
  -- Threads start at different users so that they do not move in lockstep.
  sent = thread_id or 0
end

function request()
  sent = sent + 1
  if row == "register" then
    return wrk.format("POST", "/register/", json, string.format(
      '{"username": "%s_%d_%d", "password": "bench-password-%d"}', prefix, thread_id, sent, sent))
  end
  return prepared[sent % #prepared + 1]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "socket_errors": %d, "timeouts": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, math.floor(latency:percentile(50)),
    math.floor(latency:percentile(99)), latency.max,
    errors.connect + errors.read + errors.write, errors.timeout, table.concat(parts, ", ")))
end
