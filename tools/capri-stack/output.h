/*
 * Writing a report file without ever destroying what was there before.
 *
 * A target that exists and is not a regular file (a device such as
 * /dev/stdout or /dev/full, a FIFO, a symlink) is written in place: it is
 * never replaced or removed, and a failed write is only reported. A regular
 * or absent target is written to a temporary file in the same directory,
 * which is renamed over the target only when everything was written: a
 * failed run leaves the old report (or no file) behind, never half a report,
 * and removes nothing but its own temporary file.
 */
#ifndef CAPRI_STACK_OUTPUT_H
#define CAPRI_STACK_OUTPUT_H

#include "util.h"

#include <stdio.h>

struct output {
    const char *target; /* the file the user named */
    char *temp;         /* the temporary file, or NULL when writing in place */
    const char *path;   /* what to write to: temp, or target in place */
    int fd;             /* temp's descriptor until output_stream, else -1 */
    unsigned mode;      /* permissions the finished file gets */
};

/* Prepare to write target. Returns -1 with a message when that is impossible. */
int output_begin(struct output *o, const char *target, struct error *err);

/* Open o->path for writing (for reports written by capri-stack itself). */
FILE *output_stream(struct output *o, struct error *err);

/*
 * Finish: flush and close stream (when not NULL) and, writing through a
 * temporary file, rename it over the target. With ok == 0 (the report could
 * not be produced) only the temporary file is removed. Returns -1 with a
 * message when writing failed or ok was 0 (err is then left as it was).
 */
int output_end(struct output *o, FILE *stream, int ok, struct error *err);

/*
 * Refuse an output that is one of the inputs (the same path, or the same
 * file by st_dev/st_ino). Returns -1 with a message.
 */
int output_check_not_input(const char *target, const char *const *inputs, size_t count,
                           struct error *err);

#endif
