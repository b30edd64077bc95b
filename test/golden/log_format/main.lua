-- Golden: log lines for various argument types and levels (timestamps filtered).
PROJECT = "golden_log_format"
VERSION = "1.0.0"

log.info("tag", "string", 1, 2.5, true, false, nil, "after-nil")
log.info("tag")
log.info("tag", "")
log.debug("dbg", 42)
log.warn("wrn", -1, 0x10)
log.error("err", "e")
log.info("tag", 1 / 0, -1 / 0, 1e100, 2 ^ 53, math.maxinteger)
log.info("tag", "multi\nline")
log.info(123, "numeric tag")
log.info("tag", "a", "b", "c")
log.info("level", log.getLevel(), log.LOG_DEBUG, log.LOG_INFO, log.LOG_WARN, log.LOG_ERROR, log.LOG_SILENT)
log.setLevel("WARN")
log.info("hidden", "not shown")
log.warn("shown", "warn after setLevel WARN")
log.setLevel(log.LOG_DEBUG)
log.debug("dbg", "back to debug")
print("print", 1, nil, true, 2.0)
print("GOLDEN done")
os.exit(0)
