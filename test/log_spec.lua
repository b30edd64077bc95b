local T = require "testutil"

describe("log", function()
    local log, lines
    before_each(function()
        log = T.fresh("log")
        lines = {}
        log.output({ write = function(_, s) lines[#lines + 1] = s end, flush = function() end })
    end)

    it("prints level letter, tag and arguments like a module", function()
        log.info("main", "hello", 1, nil, true)
        assert.equal(1, #lines)
        assert.truthy(lines[1]:match("^%[%d+%.%d%d%d%] I/user%.main hello 1 nil true\n$"))
    end)

    it("filters by level", function()
        log.setLevel("WARN")
        log.debug("t", "d")
        log.info("t", "i")
        log.warn("t", "w")
        log.error("t", "e")
        assert.equal(2, #lines)
        assert.truthy(lines[1]:find("W/user.t w", 1, true))
        assert.truthy(lines[2]:find("E/user.t e", 1, true))
        log.setLevel(log.LOG_DEBUG)
        log.debug("t", "d")
        assert.equal(3, #lines)
        assert.has_error(function() log.setLevel("LOUD") end)
    end)
end)
