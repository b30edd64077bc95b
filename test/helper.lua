-- Loaded by busted before the specs: module paths for the tree under test.
-- FOTA_BUILD picks the build directory (the sanitizer build uses another).
local build = os.getenv("FOTA_BUILD") or "build"
package.path = "lib/?.lua;sim/?.lua;sim/luatos/?.lua;test/?.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath
-- one PostgreSQL cluster for every spec file, started on first use (test/pgcluster.lua)
require "pgcluster"
