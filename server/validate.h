/* Input checks (validate.c): every value from the network or the CLI is
 * checked before use; and the server's clock. */
#ifndef FOTA_SRV_VALIDATE_H
#define FOTA_SRV_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "srv.h"

int srv_is_key(const char *s, size_t n);          /* product key */
int srv_is_name(const char *s, size_t n);         /* our firmware names, bsp, model: [A-Za-z0-9._-] */
/* Project names: 1..SRV_PROJECT_CHARS characters of UTF-8 without controls. */
int srv_is_project_name(const char *s, size_t n);
/* Firmware names as devices send them (percent-decoded): 1..SRV_NAME_MAX
 * bytes of UTF-8 without controls. Our own releases' names are narrower
 * (srv_is_name: the package format carries PROJECT and BSP). */
int srv_is_fwname(const char *s, size_t n);
/* Valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF),
 * no control character (C0, DEL, C1), 1..max_chars characters. */
int srv_is_text(const char *s, size_t n, size_t max_chars);
/* The length (1..4) of the valid UTF-8 sequence at s (n bytes), 0 when it
 * is not one. */
size_t srv_utf8_seq(const char *s, size_t n);
/* Cuts a sequence left incomplete at the end of s (a truncated message). */
void srv_utf8_trim(char *s);
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
