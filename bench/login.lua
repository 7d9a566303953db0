-- wrk script: POST /login with a valid username and password, counting the
-- answers by status.
wrk.method = "POST"
wrk.body = "username=benchuser&password=bench+password+1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

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
