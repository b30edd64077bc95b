/* Freshness statements (core/fresh.h): what a signature binds (time,
 * expiry, device, version, answer), the strict header parser, clock
 * judgement, and the device's record surviving a torn write. */
#include <stdio.h>
#include <string.h>

#include "core/fresh.h"
#include "core/version.h"
#include "core/sig.h"
#include "ctest_util.h"
#include "core/fota_err.h"
#include "port/port.h"

static void test_statements(void)
{
    char priv[2048], pub[1024], priv2[2048], pub2[1024], v[FOTA_FRESH_VALUE_MAX], b[FOTA_FRESH_VALUE_MAX + 8];
    CHECK_EQ(fota_sig_keygen(priv, sizeof priv, pub, sizeof pub), 0);
    CHECK_EQ(fota_sig_keygen(priv2, sizeof priv2, pub2, sizeof pub2), 0);
    fota_sig_key sk, pk, other;
    fota_sig_key_init(&sk);
    fota_sig_key_init(&pk);
    fota_sig_key_init(&other);
    CHECK_EQ(fota_sig_key_load_private(&sk, priv), 0);
    CHECK_EQ(fota_sig_key_load_public(&pk, pub), 0);
    CHECK_EQ(fota_sig_key_load_public(&other, pub2), 0);
    const char *imei = "860000000000019", *ver = "1103.1.3", *ans = "code=27";
    const int64_t t = 1764633600, exp = t + 3600;
    CHECK_EQ(fota_fresh_sign(&sk, t, exp, imei, ver, ans, v), 0);
    CHECK(strlen(v) == strlen("v=1;t=1764633600;exp=1764637200;sig=") + 128);
    fota_fresh f;
    CHECK_EQ(fota_fresh_check(&pk, v, imei, ver, ans, t + 10, 300, &f), 0);
    CHECK(f.time == t && f.expires == exp);
    /* deterministic: the same statement, the same bytes */
    CHECK_EQ(fota_fresh_sign(&sk, t, exp, imei, ver, ans, b), 0);
    CHECK(strcmp(v, b) == 0);

    /* the version in its one written form: a device sending 001.003 zero-padded is heard */
    CHECK_EQ(fota_fresh_check(&pk, v, imei, "1103.001.003", ans, t + 10, 300, NULL), 0);
    char canon[16];
    CHECK_EQ(fota_version_canon("0.000.10", 8, canon, sizeof canon), 0);
    CHECK(strcmp(canon, "0.0.10") == 0);
    CHECK_EQ(fota_version_canon("1.2.3", 5, canon, 6), 0);
    CHECK_EQ(fota_version_canon("1.2.3", 5, canon, 5), FOTA_ERR_ARG);   /* no room for the NUL */
    CHECK_EQ(fota_version_canon("1.2", 3, canon, sizeof canon), FOTA_ERR_ARG);
    CHECK_EQ(fota_version_canon("1.2.3.4", 7, canon, sizeof canon), FOTA_ERR_ARG);
    CHECK_EQ(fota_version_canon("1..3", 4, canon, sizeof canon), FOTA_ERR_ARG);
    CHECK_EQ(fota_version_canon("1.2.3", 4, canon, sizeof canon), FOTA_ERR_ARG);   /* "1.2." */

    /* bound to everything it says */
    CHECK_EQ(fota_fresh_check(&pk, v, "860000000000027", ver, ans, t, 300, NULL), FOTA_FRESH_E_SIGNATURE);
    CHECK_EQ(fota_fresh_check(&pk, v, imei, "1103.1.4", ans, t, 300, NULL), FOTA_FRESH_E_SIGNATURE);
    CHECK_EQ(fota_fresh_check(&pk, v, imei, ver, "code=26", t, 300, NULL), FOTA_FRESH_E_SIGNATURE);
    CHECK_EQ(fota_fresh_check(&other, v, imei, ver, ans, t, 300, NULL), FOTA_FRESH_E_SIGNATURE);
    snprintf(b, sizeof b, "%s", v);
    b[strlen("v=1;t=176463360")] = '1';                  /* a later time, same signature */
    CHECK_EQ(fota_fresh_check(&pk, b, imei, ver, ans, t, 300, NULL), FOTA_FRESH_E_SIGNATURE);
    snprintf(b, sizeof b, "%s", v);
    b[strlen(b) - 1] = b[strlen(b) - 1] == '0' ? '1' : '0';
    CHECK_EQ(fota_fresh_check(&pk, b, imei, ver, ans, t, 300, NULL), FOTA_FRESH_E_SIGNATURE);

    /* judged by the device's clock */
    CHECK_EQ(fota_fresh_check(&pk, v, imei, ver, ans, exp, 300, NULL), 0);
    CHECK_EQ(fota_fresh_check(&pk, v, imei, ver, ans, exp + 1, 300, NULL), FOTA_FRESH_E_EXPIRED);
    CHECK_EQ(fota_fresh_check(&pk, v, imei, ver, ans, t - 300, 300, NULL), 0);
    CHECK_EQ(fota_fresh_check(&pk, v, imei, ver, ans, t - 301, 300, NULL), FOTA_FRESH_E_FUTURE);

    /* strict form */
    const char *bad[] = {"", "v=2;t=1;exp=2;sig=", "v=1;t=01;exp=2;sig=", "v=1;exp=2;t=1;sig=",
                         "v=1;t=1;exp=2", "v=1;t=1234567890123;exp=1234567890124;sig=", "V=1;t=1;exp=2;sig="};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ(fota_fresh_check(&pk, bad[i], imei, ver, ans, t, 300, NULL), FOTA_FRESH_E_FORMAT);
    snprintf(b, sizeof b, "%s;", v);                       /* trailing byte */
    CHECK_EQ(fota_fresh_check(&pk, b, imei, ver, ans, t, 300, NULL), FOTA_FRESH_E_FORMAT);
    snprintf(b, sizeof b, "%s", v);
    b[strlen(b) - 3] = 'A';                                /* uppercase hex */
    CHECK_EQ(fota_fresh_check(&pk, b, imei, ver, ans, t, 300, NULL), FOTA_FRESH_E_FORMAT);
    b[strlen(b) - 3] = '\0';                               /* short signature */
    CHECK_EQ(fota_fresh_check(&pk, b, imei, ver, ans, t, 300, NULL), FOTA_FRESH_E_FORMAT);
    char longv[300];
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    CHECK_EQ(fota_fresh_check(&pk, longv, imei, ver, ans, t, 300, NULL), FOTA_FRESH_E_FORMAT);
    CHECK_EQ(fota_fresh_sign(&sk, t, exp, imei, ver, "code=27\nx", b), FOTA_ERR_ARG);   /* a line break */
    CHECK_EQ(fota_fresh_sign(&sk, t, t - 1, imei, ver, ans, b), FOTA_ERR_ARG);
    CHECK_EQ(fota_fresh_sign(&sk, t, exp, "", ver, ans, b), FOTA_ERR_ARG);
    CHECK_EQ(fota_fresh_sign(&pk, t, exp, imei, ver, ans, b), FOTA_ERR_IO);   /* a public key cannot sign */
    CHECK(strcmp(fota_fresh_errname(FOTA_FRESH_E_EXPIRED), "expired") == 0);
    CHECK(fota_fresh_errname(-1) == NULL);
    fota_sig_key_free(&sk);
    fota_sig_key_free(&pk);
    fota_sig_key_free(&other);
}

static void test_record(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fresh.rec", dir);
    fota_fresh f = {1764633600, 1764637200}, g;
    CHECK_EQ(fota_fresh_load(path, &g), FOTA_ERR_NOENT);
    CHECK_EQ(fota_fresh_save(path, &f), 0);
    CHECK_EQ(fota_fresh_load(path, &g), 0);
    CHECK(g.time == f.time && g.expires == f.expires);
    char tmp[520];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!fota_port_exists(tmp));                        /* renamed into place */
    /* torn or foreign: no record, never a wrong one */
    fota_port_file *w;
    CHECK_EQ(fota_port_open(&w, path, FOTA_PORT_WRITE), 0);
    CHECK_EQ(fota_port_truncate(w, FOTA_FRESH_RECORD_LEN - 1), 0);
    fota_port_close(w);
    CHECK_EQ(fota_fresh_load(path, &g), FOTA_ERR_FORMAT);
    CHECK_EQ(fota_port_open(&w, path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC), 0);
    CHECK_EQ(fota_port_pwrite(w, 0, "XXXXXXXXXXXXXXXXXXXX", FOTA_FRESH_RECORD_LEN), 0);
    fota_port_close(w);
    CHECK_EQ(fota_fresh_load(path, &g), FOTA_ERR_FORMAT);
    fota_fresh backwards = {100, 99};
    CHECK_EQ(fota_fresh_save(path, &backwards), 0);
    CHECK_EQ(fota_fresh_load(path, &g), FOTA_ERR_FORMAT);
}

int main(void)
{
    test_statements();
    const char *dir = ctest_tmpdir("test_fresh");
    CHECK(dir != NULL);
    if (dir) test_record(dir);
    return ctest_finish("test_fresh");
}
