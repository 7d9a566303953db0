-- wrk script of deploy/proxy_test.go: POST /posts as signed-in users.
--
-- Arguments: a file of users, a line each ("cookie<TAB>form token"); the
-- number of threads; the User-Agent the users signed up with (a session
-- used from another browser would be ended); a Unix time. Thread i of n
-- posts as users i, i+n, ..., each at most 20 times (the posting limit),
-- until that time, and then asks for /robots.txt: wrk drops the requests
-- under way when its time is up, and those must not be posts, which the
-- server may have saved. done() prints one line for the test:
-- "result connect=N read=N write=N timeout=N status=N posts=N 303=N ...",
-- wrk's socket and status errors, the posts sent, the answers by status.

local limit = 20
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  local n = tonumber(args[2])
  ua = args[3]
  stop = tonumber(args[4])
  users = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == id - 1 then
      local cookie, token = line:match("^([^\t]+)\t([^\t]+)$")
      table.insert(users, {cookie = cookie, token = token})
    end
    i = i + 1
  end
  current, used, sent = 1, 0, 0
  statuses = {}
end

function request()
  if used == limit then
    current, used = current + 1, 0
  end
  local u = users[current]
  if u == nil or os.time() >= stop then
    return wrk.format("GET", "/robots.txt", {["User-Agent"] = ua})
  end
  used = used + 1
  sent = sent + 1
  return wrk.format("POST", "/posts", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = u.cookie,
    ["User-Agent"] = ua,
  }, "csrf_token=" .. u.token .. "&body=wrk+" .. id .. "+" .. sent)
end

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary)
  local total, posts = {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do
      total[k] = (total[k] or 0) + v
    end
    posts = posts + t:get("sent")
  end
  local e = summary.errors
  local parts = {string.format("result connect=%d read=%d write=%d timeout=%d status=%d posts=%d",
    e.connect, e.read, e.write, e.timeout, e.status, posts)}
  for k, v in pairs(total) do
    table.insert(parts, k .. "=" .. v)
  end
  io.write(table.concat(parts, " ") .. "\n")
end
