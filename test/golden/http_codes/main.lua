-- Golden: http.request(...).wait() codes, headers and bodies against the loopback fixture server
-- (test/fixture_server.lua); its port is in the file /golden_port, written before the boot.
PROJECT = "golden_http_codes"
VERSION = "1.0.0"

local function p(...) print("GOLDEN", ...) end

local port = io.readFile("/golden_port")
local base = "http://127.0.0.1:" .. tostring(port and port:match("%d+"))

local function show(label, code, headers, body)
    local cl = type(headers) == "table" and (headers["Content-Length"] or headers["content-length"]) or nil
    p(label, "code", code, "headers", type(headers), "content-length", cl,
        "body", type(body), type(body) == "string" and ("[" .. body:sub(1, 40) .. "] " .. #body) or body)
end

sys.taskInit(function()
    show("GET /pkg", http.request("GET", base .. "/pkg").wait())
    show("GET /notfound", http.request("GET", base .. "/notfound").wait())
    show("GET /latest", http.request("GET", base .. "/latest").wait())
    show("GET /empty", http.request("GET", base .. "/empty").wait())
    show("POST /echo-body", http.request("POST", base .. "/echo-body", { ["Content-Type"] = "text/plain" },
        "posted body").wait())
    show("POST zbuff", http.request("POST", base .. "/echo-body", nil, zbuff.create(4, "zbuf")).wait())
    local zb = zbuff.create(4)
    zb:write("ab")
    show("GET zbuff", http.request("GET", base .. "/pkg", nil, zb).wait())
    show("echo headers", http.request("GET", base .. "/echo-headers", { ["X-Golden"] = "yes" }).wait())
    os.remove("/golden_dl.bin")
    show("dst", http.request("GET", base .. "/pkg", nil, nil, { dst = "/golden_dl.bin" }).wait())
    p("dst file size", io.fileSize("/golden_dl.bin"))
    os.remove("/golden_dl.bin")
    show("dst 404", http.request("GET", base .. "/notfound", nil, nil, { dst = "/golden_dl.bin" }).wait())
    p("dst 404 file", io.exists("/golden_dl.bin"))
    show("closed port", http.request("GET", "http://127.0.0.1:1/x").wait())
    show("bad url", http.request("GET", "nothttp://x").wait())
    show("timeout", http.request("GET", base .. "/slow", nil, nil, { timeout = 1500 }).wait())
    p("done")
    os.exit(0)
end)

sys.run()
