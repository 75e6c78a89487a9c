#include "calc.h"

#include <stddef.h>

static long add(long a, long b, int *error) { (void)error; return a + b; }
static long subtract(long a, long b, int *error) { (void)error; return a - b; }
static long multiply(long a, long b, int *error) { (void)error; return a * b; }

static long divide(long a, long b, int *error)
{
    if (b == 0) {
        *error = 1;
        return 0;
    }
    return a / b;
}

static const struct operator operators[] = {
    {'+', 1, add}, {'-', 1, subtract}, {'*', 2, multiply}, {'/', 2, divide},
};

const struct operator *operator_for(char symbol)
{
    for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++)
        if (operators[i].symbol == symbol)
            return &operators[i];
    return NULL;
}
