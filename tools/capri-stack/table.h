/*
 * Aligned text tables for the text reports: rows of cells, each column as
 * wide as its widest cell, numbers right-aligned. A row can instead be a
 * note, printed on its own line under the row before it.
 */
#ifndef CAPRI_STACK_TABLE_H
#define CAPRI_STACK_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_MAX_COLUMNS 8

struct table_row {
    char *cells[TABLE_MAX_COLUMNS]; /* NULL cells[0] with note set: a note row */
    char *note;
};

struct table {
    size_t columns;
    unsigned right_aligned; /* bit i: column i is right-aligned */
    struct table_row *rows;
    size_t count, cap;
};

void table_init(struct table *t, size_t columns, unsigned right_aligned);
/* Add a row of `columns` cells (copied; NULL is an empty cell). */
void table_row(struct table *t, ...);
/* Add a note under the last row (printf-style). */
void table_note(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print every row indented by `indent` spaces, then free the table. */
void table_print(FILE *out, struct table *t, int indent);

#endif
