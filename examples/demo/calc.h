/* calc: a small expression evaluator, split over three files so that its
 * call paths cross files: main.c reads lines, parser.c parses them by
 * recursive descent, ops.c applies operators through a table of function
 * pointers. */
#ifndef CALC_H
#define CALC_H

struct operator {
    char symbol;
    int precedence;
    long (*apply)(long left, long right, int *error);
};

const struct operator *operator_for(char symbol);
long evaluate(const char *text, int *error);

#endif
