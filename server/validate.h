/* Input checks (validate.c): every value from the network or the CLI is
 * checked before use; and the server's clock. */
#ifndef FOTA_SRV_VALIDATE_H
#define FOTA_SRV_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "srv.h"

int srv_is_key(const char *s, size_t n);          /* product key */
int srv_is_name(const char *s, size_t n);         /* project/firmware/bsp */
int srv_is_owner(const char *s, size_t n);
int srv_is_imei(const char *s, size_t n);         /* 15 digits (charset + length) */
int srv_imei_luhn(const char *imei);              /* 1 when the check digit is right */
/* "x.y.z", each part 1..SRV_VER_PART_MAX digits; writes the canonical form
 * (leading zeros dropped) into out (SRV_VER_MAX). 1 ok, 0 bad. */
int srv_version_canon(const char *s, size_t n, char *out);

/* Wall clock in ms, and the start of the local day containing ts_ms, in ms. */
int64_t srv_now_ms(void);
int64_t srv_day_start(int64_t ts_ms);

#endif
