#include "calc.h"

#include <capri.h>
#include <ctype.h>
#include <stdlib.h>

/* Deepest nesting of parse_expression the parser accepts. */
#define MAX_DEPTH 64

struct parser {
    const char *at;
    int depth;
    int *error;
};

static long parse_expression(struct parser *p, int min_precedence);

static void skip_spaces(struct parser *p)
{
    while (isspace((unsigned char)*p->at))
        p->at++;
}

/* A primary is a number or a parenthesised expression. */
static long parse_primary(struct parser *p)
{
    skip_spaces(p);
    if (*p->at == '(') {
        p->at++;
        long value = parse_expression(p, 0);
        skip_spaces(p);
        if (*p->at != ')')
            *p->error = 1;
        else
            p->at++;
        return value;
    }
    char *end;
    long value = strtol(p->at, &end, 10);
    if (end == p->at)
        *p->error = 1;
    p->at = end;
    return value;
}

/* Precedence climbing. Parentheses and right operands make the parser
 * recursive; every recursive path passes through this function, and it
 * refuses to nest deeper than MAX_DEPTH. Declaring that bound gives the
 * recursion a finite stack bound in capri-stack's report. */
CAPRI_RECURSION_BOUND(64) static long parse_expression(struct parser *p, int min_precedence)
{
    if (++p->depth > MAX_DEPTH) {
        *p->error = 1;
        p->depth--;
        return 0;
    }
    long left = parse_primary(p);
    for (;;) {
        skip_spaces(p);
        const struct operator *op = operator_for(*p->at);
        if (!op || op->precedence < min_precedence || *p->error)
            break;
        p->at++;
        long right = parse_expression(p, op->precedence + 1);
        left = op->apply(left, right, p->error);
    }
    p->depth--;
    return left;
}

long evaluate(const char *text, int *error)
{
    struct parser p = {text, 0, error};
    *error = 0;
    long value = parse_expression(&p, 0);
    skip_spaces(&p);
    if (*p.at)
        *error = 1;
    return value;
}
