/*
 * libFuzzer target: a whole input file (ELF or archive) through the reader,
 * the model, the analysis, every report format and verify, as capri-stack
 * runs them. Output goes to /dev/null; only crashes and sanitizer reports
 * matter.
 */
#include "report.h"
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sink) {
        sink = fopen("/dev/null", "w");
        diag_quiet = 1;
    }
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy || !sink) {
        free(copy);
        return 0;
    }
    memcpy(copy, data, size);
    struct inputs in;
    struct error err;
    memset(&in, 0, sizeof in);
    if (inputs_add_buffer(&in, "fuzz", copy, size, &err) == 0 && inputs_finish(&in, &err) == 0) {
        struct model_options mo = { DEFAULT_EXTERNAL_RESERVE, INDIRECT_C_TYPE };
        for (int mode = 0; mode < 2; mode++) {
            struct model m;
            mo.indirect = mode ? INDIRECT_IR_TYPE : INDIRECT_C_TYPE;
            model_build(&m, &in, &mo);
            struct analysis a;
            struct analysis_options ao = { NULL, 0, 4096, 1, DEFAULT_DEAD_STATE_THRESHOLD,
                                           DEFAULT_LIVE_STATE_THRESHOLD };
            if (analysis_run(&a, &m, &ao, &err) == 0) {
                struct report r = { &in, &m, &a, ~0u, 0 };
                report_text(sink, &r);
                report_json(sink, &r);
                report_sarif(sink, &r);
                report_dot(sink, &r);
            }
            analysis_free(&a);
            verify_run(sink, &m, mode, &err);
            model_free(&m);
        }
    }
    inputs_free(&in);
    free(copy);
    return 0;
}
