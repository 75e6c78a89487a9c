#include "table.h"
#include "util.h"

#include <stdlib.h>

void table_init(struct table *t, size_t columns, unsigned right_aligned)
{
    memset(t, 0, sizeof *t);
    t->columns = columns < TABLE_MAX_COLUMNS ? columns : TABLE_MAX_COLUMNS;
    t->right_aligned = right_aligned;
}

void table_row(struct table *t, ...)
{
    GROW(t->rows, t->cap, t->count + 1);
    struct table_row *r = &t->rows[t->count++];
    memset(r, 0, sizeof *r);
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->columns; i++) {
        const char *cell = va_arg(ap, const char *);
        r->cells[i] = xstrdup(cell ? cell : "");
    }
    va_end(ap);
}

void table_note(struct table *t, const char *fmt, ...)
{
    GROW(t->rows, t->cap, t->count + 1);
    struct table_row *r = &t->rows[t->count++];
    memset(r, 0, sizeof *r);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    r->note = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    r->note[0] = '\0';
    va_start(ap, fmt);
    if (n > 0)
        vsnprintf(r->note, (size_t)n + 1, fmt, ap);
    va_end(ap);
}

void table_print(FILE *out, struct table *t, int indent)
{
    size_t width[TABLE_MAX_COLUMNS] = { 0 };
    for (size_t r = 0; r < t->count; r++)
        for (size_t c = 0; c < t->columns && t->rows[r].cells[0]; c++) {
            size_t n = strlen(t->rows[r].cells[c]);
            if (n > width[c])
                width[c] = n;
        }
    /* Notes start under the third column (past frame and source, say). */
    size_t note_at = 0;
    for (size_t c = 0; c + 1 < t->columns && c < 2; c++)
        note_at += width[c] + 2;
    for (size_t r = 0; r < t->count; r++) {
        struct table_row *row = &t->rows[r];
        if (!row->cells[0]) {
            fprintf(out, "%*s%s\n", indent + (int)note_at, "", row->note);
            free(row->note);
            continue;
        }
        /* Trailing empty cells are not padded, so lines carry no trailing spaces. */
        size_t last = t->columns;
        while (last > 1 && row->cells[last - 1][0] == '\0')
            last--;
        fprintf(out, "%*s", indent, "");
        for (size_t c = 0; c < last; c++) {
            int w = (int)width[c];
            int right = (t->right_aligned >> c) & 1;
            if (c + 1 == last && !right)
                fputs(row->cells[c], out);
            else
                fprintf(out, right ? "%*s" : "%-*s", w, row->cells[c]);
            if (c + 1 < last)
                fputs("  ", out);
        }
        fputc('\n', out);
        for (size_t c = 0; c < t->columns; c++)
            free(row->cells[c]);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}
