/* Mbed TLS on the image: Debian's default configuration without what needs
 * an OS (sockets, timers, the platform's entropy, files, the clock). Only
 * SHA-256, ECDSA P-256 and key parsing end up linked (--gc-sections). */
#undef MBEDTLS_NET_C
#undef MBEDTLS_TIMING_C
#undef MBEDTLS_FS_IO
#undef MBEDTLS_HAVE_TIME
#undef MBEDTLS_HAVE_TIME_DATE
#undef MBEDTLS_PSA_ITS_FILE_C
#undef MBEDTLS_PSA_CRYPTO_STORAGE_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
