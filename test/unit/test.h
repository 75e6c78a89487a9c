/* A minimal unit-test harness: CHECK macros that count failures. */
#ifndef CAPRI_TEST_H
#define CAPRI_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        test_checks++;                                                                   \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
            test_failures++;                                                             \
        }                                                                                \
    } while (0)

#define CHECK_EQ(a, b)                                                                   \
    do {                                                                                 \
        test_checks++;                                                                   \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                 \
        if (a_ != b_) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%" PRIu64 " vs %" PRIu64 \
                    ")\n", __FILE__, __LINE__, #a, #b, a_, b_);                          \
            test_failures++;                                                             \
        }                                                                                \
    } while (0)

#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        test_checks++;                                                                   \
        const char *a_ = (a), *b_ = (b);                                                 \
        if (strcmp(a_, b_) != 0) {                                                       \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s (\"%s\" vs \"%s\")\n",    \
                    __FILE__, __LINE__, #a, #b, a_, b_);                                 \
            test_failures++;                                                             \
        }                                                                                \
    } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                 \
    do {                                                                                 \
        test_checks++;                                                                   \
        if (!strstr((haystack), (needle))) {                                             \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                    (haystack), (needle));                                               \
            test_failures++;                                                             \
        }                                                                                \
    } while (0)

#define RUN(test)                                                                        \
    do {                                                                                 \
        int before_ = test_failures;                                                     \
        test();                                                                          \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "PASS" : "FAIL", #test);   \
    } while (0)

static inline int test_summary(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failures\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
