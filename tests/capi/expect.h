/* The checks of the C API's test programs: EXPECT(cond) and EXPECT_STATUS(call, want, needle)
 * count each check and print each failure; main() reports g_checks and g_failures. Included by
 * one translation unit per program (the definitions are static). */
#ifndef RRWKV_TESTS_CAPI_EXPECT_H
#define RRWKV_TESTS_CAPI_EXPECT_H

#include <stdio.h>
#include <string.h>

#include <rrwkv_rt/rrwkv.h>

static int g_failures = 0, g_checks = 0;

#define EXPECT(cond)                                                  \
  do {                                                                \
    ++g_checks;                                                       \
    if (!(cond)) {                                                    \
      ++g_failures;                                                   \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                 \
  } while (0)

/* call returns `want` and the last error contains `needle` ("" for an empty message). */
#define EXPECT_STATUS(call, want, needle) expect_status((call), (want), (needle), #call, __FILE__, __LINE__)

static void expect_status(rrwkv_status got, rrwkv_status want, const char* needle, const char* call, const char* file,
                          int line) {
  const char* msg = rrwkv_last_error();
  ++g_checks;
  if (got != want || msg == NULL || (needle[0] ? strstr(msg, needle) == NULL : msg[0] != '\0')) {
    ++g_failures;
    fprintf(stderr, "%s:%d: FAILED: %s\n  returned %s, expected %s; message \"%s\" should %s \"%s\"\n", file, line,
            call, rrwkv_status_name(got), rrwkv_status_name(want), msg ? msg : "(NULL)",
            needle[0] ? "contain" : "be", needle);
  }
}

#endif
