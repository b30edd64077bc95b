/* Versions: the script version "x.y.z" (LuatOS's VERSION) and the core
 * version ("V1103"), as packages, the device and the server compare them. */
#ifndef FOTA_VERSION_H
#define FOTA_VERSION_H

#include <stddef.h>
#include <stdint.h>

/* Script version "x.y.z": exactly three non-empty runs of ASCII digits. */
int fota_version_valid(const char *s);               /* 1 valid, 0 not */
/* *cmp = -1/0/1 comparing numerically per part (any length, leading zeros
 * ignored). Returns 0, or FOTA_ERR_ARG when either is invalid. */
int fota_version_compare(const char *a, const char *b, int *cmp);
/* The one written form of a version of three runs of digits: leading zeros
 * dropped per part ("1103.001.000" -> "1103.1.0"), as every comparison reads
 * it; signed statements name versions in it. s: n bytes. 0, or FOTA_ERR_ARG
 * (not three runs of digits, or out of cap bytes too small). */
int fota_version_canon(const char *s, size_t n, char *out, size_t cap);
/* Core version "V1103", "v1103" or "1103" -> 1103 (1..999999999).
 * Returns 0 or FOTA_ERR_ARG. */
int fota_version_parse_core(const char *s, uint32_t *out);

#endif
