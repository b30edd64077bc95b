-- fota-server with packages on a static host (docs/server.md "Packages on a
-- static host"): `fota-server export DIR` writes the content-addressed
-- package files, a throwaway nginx (Debian's, on 127.0.0.1, its own prefix
-- in a temp directory, stopped at the end) serves DIR, and `serve
-- --package-url` answers every upgrade with a 302 there. The module's own
-- client follows it, resumes a cut download with Range against nginx, and
-- verifies the package as from the server: a file changed on the host is
-- refused.
local T = require "testutil"
local socket = require "socket"

local FW = T.FW
local NGINX = (io.open("/usr/sbin/nginx") and "/usr/sbin/nginx") or "nginx"
local new_imei = T.imei_maker("8610")
local admin = T.admin

local function free_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return tonumber(port)
end

--- nginx serving root on a free loopback port; returns url, stop, log().
local function start_nginx(root)
    local dir = T.tmpdir("nginx")
    local port = free_port()
    -- as root the workers would run as nobody, who cannot enter mktemp's 0700 directories
    local user = T.run("id -u"):match("^0") and "user root;\n" or ""
    T.write(dir .. "/nginx.conf", user .. string.format([[
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 64; }
http {
    access_log %s/access.log;
    client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
    server { listen 127.0.0.1:%d; location /pkgs/ { alias %s/; } }
}
]], dir, dir, dir, dir, dir, dir, dir, dir, port, root))
    local out, status = T.run(string.format("%s -e %s/error.log -p %s -c %s/nginx.conf 2>&1", NGINX, dir, dir, dir))
    assert(status == 0, "nginx did not start: " .. out)
    for _ = 1, 100 do
        local c = socket.connect("127.0.0.1", port)
        if c then c:close(); break end
        socket.sleep(0.02)
    end
    return {
        url = string.format("http://127.0.0.1:%d/pkgs/", port),
        log = function() return T.read(dir .. "/access.log") or "" end,
        stop = function()
            local pid = T.read(dir .. "/nginx.pid")
            if pid then os.execute("kill -QUIT " .. pid:match("%d+") .. " 2>/dev/null") end
        end,
    }
end

describe("fota-server packages on a static host (nginx)", function()
    local db, dir, key, pub, ngx, srv, exported

    setup(function()
        db, dir = T.server_fixture({ core1104 = T.noise(100000, 31) })
        key, pub = T.keypair(dir)
        exported = dir .. "/export"
        ngx = start_nginx(exported)
        srv = T.start_fota_server({ db = db, key = key, flush_ms = 30, package_url = ngx.url })
    end)
    teardown(function()
        if srv then srv.stop() end
        if ngx then ngx.stop() end
    end)

    local function ls(d)
        local names = {}
        local p = io.popen("ls " .. d .. " 2>/dev/null")
        for l in p:lines() do names[#names + 1] = l end
        p:close()
        return names
    end

    it("export writes every package of the configurations under its SHA-256, once", function()
        local out = admin(db, "export " .. exported .. " --key " .. key)
        assert.truthy(out:find("export: 2 written, 0 already there", 1, true), out)
        local names = ls(exported)
        assert.equal(2, #names)   -- the whole core (any other core), script-only (on V1104)
        for _, n in ipairs(names) do assert.truthy(n:match("^%x+%.fota$") and #n == 69, n) end
        out = admin(db, "export " .. exported .. " --key " .. key)
        assert.truthy(out:find("0 written, 2 already there", 1, true), out)
        local _, status = T.fota_server(db, "export")
        assert.equal(2, status)
    end)

    it("answers an upgrade with a 302 to the package's content-addressed name", function()
        local url = srv.url(string.format("project_key=KEY123&firmware_name=%s&version=1102.1.3&imei=%s", FW,
            new_imei()))
        local st, h
        for _ = 1, 200 do
            local _
            st, _, h = T.curl(url)
            if st ~= 503 then break end
            socket.sleep(0.05)
        end
        assert.equal(302, st)
        local name = h.location:match("^" .. ngx.url:gsub("%p", "%%%0") .. "(%x+)%.fota$")
        assert.truthy(name, h.location)
        assert.truthy(T.read(exported .. "/" .. name .. ".fota"), "exported: " .. name)
        assert.truthy(h["x-fota-fresh"])
        -- not newer: the usual JSON answer, no redirect
        st = T.curl(srv.url(string.format("project_key=KEY123&firmware_name=%s&version=1104.1.4&imei=%s", FW,
            new_imei())))
        assert.equal(404, st)
    end)

    describe("with the module's client", function()
        local sys, libfota2

        before_each(function()
            local ddir = T.tmpdir("static-dev")
            sys = T.device(ddir)
            libfota2 = T.fresh("libfota2")
            _G.PROJECT, _G.VERSION, _G.PRODUCT_KEY = "demo", "1.2.3", "KEY123"
            os.execute("mkdir -p " .. ddir .. "/fota")
            T.write(ddir .. "/fota/trusted.pem", pub)
        end)
        after_each(function() _G.PROJECT, _G.VERSION, _G.PRODUCT_KEY = nil, nil, nil end)

        local function request2(opts)
            local got
            libfota2.request(function(code, info) got = { code, info } end, opts)
            sys.run()
            return got[1], got[2]
        end

        it("follows the redirect, resumes a cut download with Range against nginx, verifies it", function()
            local id = new_imei()
            local opts = { project_key = "KEY123", imei = id, version = "1102.1.3" }
            local flow = require "fotaflow"
            local url = flow.with_query(srv.base, flow.iot_query(opts, "libfota2"))
            local t, done, total = T.partial_download(url)
            assert.is_true(done > 0 and done < (total or 0), "partial: " .. tostring(done))
            t:close()
            local code, info = request2({ url = srv.base, imei = id, version = "1102.1.3" })
            assert.equal(0, code, info and info.msg)
            assert.equal(206, info.status)
            assert.equal(done, info.resumed)
            assert.equal(total, info.size)
            -- both from nginx: a whole GET, then the rest with Range
            local log = ngx.log()
            assert.truthy(log:find('GET /pkgs/%x+%.fota HTTP/1%.1" 200'), log)
            assert.truthy(log:find('GET /pkgs/%x+%.fota HTTP/1%.1" 206'), log)
        end)

        it("refuses a package changed on the host: the host is not trusted", function()
            -- the whole-core package (the larger file) gets one byte changed
            local biggest, size = nil, -1
            for _, n in ipairs(ls(exported)) do
                local data = T.read(exported .. "/" .. n)
                if #data > size then biggest, size = n, #data end
            end
            local path = exported .. "/" .. biggest
            local data = T.read(path)
            local at = #data - 200
            T.write(path, data:sub(1, at - 1) .. string.char((data:byte(at) + 1) % 256) .. data:sub(at + 1))
            local code, info = request2({ url = srv.base, imei = new_imei(), version = "1102.1.3" })
            T.write(path, data)
            assert.equal(4, code)
            assert.equal("verify", info.error)
            assert.truthy(info.reason == "hash_mismatch" or info.reason == "bad_signature", info.reason)
        end)
    end)
end)
