-- fota.crypto: LuatOS's crypto module (hex digests upper-case, CRCs as integers).
describe("crypto", function()
    local crypto = require "fota.crypto"
    local zbuff = require "fota.zbuff"
    local check = "123456789"   -- the CRC catalogue's check input

    it("digests are upper-case hex of the standard values", function()
        assert.equal("900150983CD24FB0D6963F7D28E17F72", crypto.md5("abc"))
        assert.equal("A9993E364706816ABA3E25717850C26C9CD0D89D", crypto.sha1("abc"))
        assert.equal("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", crypto.sha256("abc"))
        assert.equal("DDAF35A193617ABACC417349AE20413112E6FA4E89A97EA20A9EEEE64B55D39A"
            .. "2192992A274FC1A836BA3C23A3FEEBBD454D4423643CE80E2A9AC94FA54CA49F", crypto.sha512("abc"))
        assert.equal("D41D8CD98F00B204E9800998ECF8427E", crypto.md5(""))
        assert.equal(crypto.sha256("abc"), crypto.md("SHA256", "abc"))
    end)

    it("hmacs match RFC 2202 / 4231", function()
        assert.equal("750C783E6AB0B503EAA86E310A5DB738", crypto.hmac_md5("what do ya want for nothing?", "Jefe"))
        assert.equal("EFFCDF6AE5EB2FA2D27416D5F184DF9C259A7C79",
            crypto.hmac_sha1("what do ya want for nothing?", "Jefe"))
        assert.equal("5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843",
            crypto.hmac_sha256("what do ya want for nothing?", "Jefe"))
        assert.equal("164B7A7BFCF819E2E395FBE73B56E0A387BD64222E831FD610270CD7EA250554"
            .. "9758BF75C05A994A6D034F65F8F0E6FDCAEAB1A34D4A6B4B636E070A38BCE737",
            crypto.hmac_sha512("what do ya want for nothing?", "Jefe"))
        -- a key longer than the block is hashed first (RFC 4231 case 6)
        assert.equal("60E431591EE0B67F0D8A26AACBF5B77F8E0BC6213728C5140546040F0EE37F54",
            crypto.hmac_sha256("Test Using Larger Than Block-Size Key - Hash Key First", string.rep("\xaa", 131)))
        assert.equal(crypto.hmac_md5("abc", "k"), crypto.md("MD5", "abc", "k"))
    end)

    it("crc16 knows LuatOS's method names (catalogue check values)", function()
        local want = { IBM = 0xBB3D, MAXIM = 0x44C2, USB = 0xB4C8, MODBUS = 0x4B37, CCITT = 0x2189,
            ["CCITT-FALSE"] = 0x29B1, X25 = 0x906E, XMODEM = 0x31C3, DNP = 0xEA82 }
        for method, crc in pairs(want) do
            assert.equal(crc, crypto.crc16(method, check), method)
        end
        assert.equal(0x4B37, crypto.crc16_modbus(check))
        -- USER-DEFINED with CCITT-FALSE's parameters
        assert.equal(0x29B1, crypto.crc16("USER-DEFINED", check, 0x1021, 0xFFFF, 0, 0, 0))
        -- outReverse reflects the result once more
        assert.equal(0x31C3, crypto.crc16("XMODEM", check))
        assert.equal(0xC38C, crypto.crc16("XMODEM", check, nil, nil, nil, nil, 1))
        assert.equal(0x31C3, crypto.crc16("USER-DEFINED", check, 0x1021, 0, 0, 0, 0))
    end)

    it("crc16 of a zbuff covers its cursor to its end", function()
        local b = zbuff.create(#check, check)   -- the cursor is after the string
        assert.equal(0xFFFF, crypto.crc16("MODBUS", b))   -- nothing left: the initial value
        b:seek(0)
        assert.equal(0x4B37, crypto.crc16("MODBUS", b))
        b:seek(4)
        assert.equal(crypto.crc16("MODBUS", "56789"), crypto.crc16("MODBUS", b))
    end)

    it("crc32 and crc8 as LuatOS computes them", function()
        assert.equal(0xCBF43926, crypto.crc32(check))
        assert.equal(0xCBF43926, crypto.crc32(check, 0xFFFFFFFF, 0x04C11DB7, 0xFFFFFFFF))
        assert.equal(0x340BC6D9, crypto.crc32(check, 0xFFFFFFFF, 0x04C11DB7, 0))   -- JAMCRC
        assert.equal(0, crypto.crc32(""))
        assert.equal(0xF4, crypto.crc8(check))                  -- poly 0x07 from 0
        assert.equal(0xA1, crypto.crc8(check, 0x31, 0, true))   -- CRC-8/MAXIM
        assert.equal(0xF7, crypto.crc8(check, 0x31, 0xFF, false))   -- CRC-8/NRSC-5
    end)

    it("checksum XORs or sums the bytes", function()
        assert.equal(0x4F ~ 0x4B, crypto.checksum("OK"))
        assert.equal((0x4F + 0x4B) & 0xFF, crypto.checksum("OK", 1))
    end)

    it("base64 round-trips; bad input decodes to an empty string", function()
        assert.equal("", crypto.base64_encode(""))
        assert.equal("Zm9vYmFy", crypto.base64_encode("foobar"))
        assert.equal("Zm8=", crypto.base64_encode("fo"))
        assert.equal("foobar", crypto.base64_decode("Zm9vYmFy"))
        assert.equal("", crypto.base64_decode("!!!notbase64"))
        local all = {}
        for i = 0, 255 do all[#all + 1] = string.char(i) end
        all = table.concat(all)
        assert.equal(all, crypto.base64_decode(crypto.base64_encode(all)))
    end)

    it("trng gives len random bytes, at most 128, nothing for len < 1", function()
        local a, b = crypto.trng(16), crypto.trng(16)
        assert.equal(16, #a)
        assert.not_equal(a, b)
        assert.equal(128, #crypto.trng(1000))
        assert.equal(0, select("#", crypto.trng(0)))
    end)

    it("bad arguments are errors naming the argument", function()
        assert.has_error(function() crypto.md5() end, "bad argument #1 to 'md5' (string expected, got no value)")
        assert.has_error(function() crypto.hmac_sha256("x") end,
            "bad argument #2 to 'hmac_sha256' (string expected, got no value)")
        assert.error_matches(function() crypto.crc16("NOPE", "x") end, "bad argument #1 to 'crc16'")
        assert.error_matches(function() crypto.crc16("IBM", {}) end, "bad argument #2 to 'crc16'")
        assert.error_matches(function() crypto.crc16("IBM", "x", 0x10000) end, "bad argument #3 to 'crc16'")
        assert.error_matches(function() crypto.crc32("x", -1) end, "bad argument #2 to 'crc32'")
        assert.error_matches(function() crypto.md("SHA3", "x") end, "bad argument #1 to 'md'")
        assert.error_matches(function() crypto.trng("x") end, "bad argument #1 to 'trng'")
        assert.error_matches(function() crypto.base64_decode(nil) end, "bad argument #1 to 'base64_decode'")
    end)
end)
