/*
 * A streaming JSON writer, just enough for the JSON and SARIF reports:
 * nested objects and arrays, pretty-printed with two-space indentation,
 * strings escaped per RFC 8259 (bytes that are not valid UTF-8 become
 * U+FFFD so the output always parses).
 */
#ifndef CAPRI_STACK_JSON_H
#define CAPRI_STACK_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
    FILE *out;
    int depth;
    int has_items[JSON_MAX_DEPTH]; /* per level: does it need a comma first? */
};

void json_init(struct json *j, FILE *out);
/* In an object pass the member's key; in an array pass NULL. */
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_string(struct json *j, const char *key, const char *value);
void json_uint(struct json *j, const char *key, uint64_t value);
void json_double(struct json *j, const char *key, double value);
void json_bool(struct json *j, const char *key, int value);
void json_null(struct json *j, const char *key);
/* Ends the document with a newline. */
void json_finish(struct json *j);

#endif
