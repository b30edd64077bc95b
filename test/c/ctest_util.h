/* Minimal assertions for the C tests: a failed check prints where and
 * counts; main returns ctest_finish() so ctest sees the result. */
#ifndef CTEST_UTIL_H
#define CTEST_UTIL_H
#include <stdio.h>

extern int ctest_failures;
extern int ctest_checks;

#define CHECK(cond) do { ctest_checks++; if (!(cond)) { ctest_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); ctest_checks++; \
    if (a_ != b_) { ctest_failures++; fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", \
    __FILE__, __LINE__, #a, #b, a_, b_); } } while (0)

#include <stddef.h>
#include <stdint.h>

/* Deterministic pseudo-random bytes (an LCG from seed). */
void ctest_fill(uint8_t *p, size_t n, uint32_t seed);
void ctest_sha256(const uint8_t *p, size_t n, uint8_t out[32]);

/* A whole file, NUL-terminated (not counted in *n); NULL when path is NULL
 * or the file can't be read. Free it. */
uint8_t *ctest_read_file(const char *path, size_t *n);
/* DIR/NAME, as ctest_read_file; a file that can't be read ends the test (exit 2). */
uint8_t *ctest_load(const char *dir, const char *name, size_t *n);
/* Writes the n bytes as the whole file (a failure is a failed check). */
void ctest_write_file(const char *path, const void *data, size_t n);
/* 1 when the file holds exactly these n bytes. */
int ctest_file_equals(const char *path, const void *data, size_t n);

/* A Luhn-valid IMEI: the 2-digit prefix, n in 12 digits, the check digit. */
void ctest_imei(const char *prefix2, unsigned long n, char out[16]);

/* A fresh empty directory under the working directory for one test. */
const char *ctest_tmpdir(const char *name);
int ctest_finish(const char *suite);
#endif
