/* calc: evaluate the expressions given as arguments, or read from stdin. */
#include "calc.h"

#include <stdio.h>
#include <string.h>

static int report(const char *text)
{
    int error;
    long value = evaluate(text, &error);
    if (error) {
        fprintf(stderr, "calc: cannot evaluate: %s\n", text);
        return 1;
    }
    printf("%s = %ld\n", text, value);
    return 0;
}

int main(int argc, char **argv)
{
    int failures = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            failures += report(argv[i]);
        return failures != 0;
    }
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            failures += report(line);
    }
    return failures != 0;
}
