-- wrk script: POST /login with a valid username and password, counting the
-- answers by status.
-- Every other request has a wrong password; all come from one client
-- network (X-Forwarded-For, read by a server run with --behind-proxy).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["X-Forwarded-For"] = "198.51.100.7"
local n = 0

function request()
	n = n + 1
	local body = "username=benchuser&password=bench+password+1"
	if n % 2 == 0 then
		body = "username=benchuser&password=wrong+password+" .. n
	end
	return wrk.format(nil, nil, nil, body)
end

-- statuses is global: wrk reads it from each thread with thread:get.
statuses = {}
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init()
	statuses = {}
end

function response(status)
	statuses[status] = (statuses[status] or 0) + 1
end

function done()
	local total = {}
	for _, t in ipairs(threads) do
		local s = t:get("statuses")
		for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
	end
	local parts = {}
	for k, v in pairs(total) do table.insert(parts, k .. ": " .. v) end
	table.sort(parts)
	io.write("login answers by status: " .. table.concat(parts, ", ") .. "\n")
end
