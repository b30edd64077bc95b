#include "ctest_util.h"
#include <stdlib.h>
#include <string.h>

int ctest_failures;
int ctest_checks;

const char *ctest_tmpdir(const char *name)
{
    static char path[256];
    char cmd[600];
    if (strlen(name) > 100) {
        fprintf(stderr, "tmpdir name too long\n");
        exit(2);
    }
    snprintf(path, sizeof path, "ctest_tmp/%s", name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot make %s\n", path);
        exit(2);
    }
    return path;
}

int ctest_finish(const char *suite)
{
    printf("%s: %d checks, %d failed\n", suite, ctest_checks, ctest_failures);
    return ctest_failures ? 1 : 0;
}
