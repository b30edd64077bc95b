-- Golden: crypto digests, HMACs, base64, CRCs.
PROJECT = "golden_crypto"
VERSION = "1.0.0"

local function p(...) print("GOLDEN", ...) end

local msgs = { "", "abc", "The quick brown fox jumps over the lazy dog", string.rep("\0\255", 40) }
for i, m in ipairs(msgs) do
    p("md5", i, crypto.md5(m))
    p("sha1", i, crypto.sha1(m))
    p("sha256", i, crypto.sha256(m))
    p("sha512", i, crypto.sha512(m))
end
p("hmac_md5", crypto.hmac_md5("data", "key"))
p("hmac_sha1", crypto.hmac_sha1("data", "key"))
p("hmac_sha256", crypto.hmac_sha256("data", "key"))
p("hmac_sha512", crypto.hmac_sha512("data", "key"))
p("hmac long key", crypto.hmac_sha256("data", string.rep("k", 100)))
p("base64_encode", crypto.base64_encode("hello world"))
p("base64_encode 1", crypto.base64_encode("a"))
p("base64_encode 2", crypto.base64_encode("ab"))
p("base64_encode bin", crypto.base64_encode("\0\1\2\253\254\255"))
p("base64_decode", crypto.base64_decode("aGVsbG8gd29ybGQ="))
p("base64_decode hex", crypto.base64_decode("AAEC/f7/"):toHex())
p("crc16", crypto.crc16("MODBUS", "123456789"))
p("crc16_modbus", crypto.crc16_modbus("123456789"))
p("crc32", crypto.crc32("123456789"))
p("crc32 empty", crypto.crc32(""))
p("crc8", crypto.crc8("123456789"))
p("md5 type", type(crypto.md5("x")), #crypto.md5("x"))
p("done")
os.exit(0)
