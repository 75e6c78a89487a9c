/*
 * Knot's HTTP/1.1 request parser (RFC 9112): the request line and the
 * header section of one request, from a buffer that may hold less than a
 * whole request (call again with more) or more (pipelined requests follow).
 * Pure: no I/O, no allocation; the fuzz target and the unit test drive it
 * directly.
 */
#ifndef KNOT_HTTP_H
#define KNOT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

struct http_limits {
    size_t max_target;  /* request-target bytes: longer is 414 */
    size_t max_header;  /* request line and header section bytes: more is 431 */
    unsigned max_fields;/* header fields: more is 431 */
    uint64_t max_body;  /* Content-Length: larger is 413 */
};

struct http_request {
    enum http_method method;
    const char *target; /* the path (and query) as sent, not NUL-terminated */
    size_t target_len;
    unsigned version_minor; /* HTTP/1.<minor>: 0 or 1 (later minors read as 1) */
    bool keep_alive;        /* after the response, read the next request */
    uint64_t content_length;/* body bytes that follow the header section */
};

/*
 * Parses the request at the start of buf[0..len). Returns the bytes of its
 * request line and header section (the body, content_length bytes, follows)
 * when they are complete, 0 when more input is needed, or minus the status
 * to answer with when the request is bad (the connection is then closed):
 * -400 malformed, -414 target too long, -431 header section too large,
 * -501 a transfer coding (request bodies must have a Content-Length),
 * -505 an HTTP major version other than 1, -413 a body over max_body.
 * A method other than GET and HEAD parses as HTTP_OTHER (the server answers
 * 405). Empty lines before the request line are skipped, as RFC 9112 asks.
 */
long http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
                        struct http_request *req);

/*
 * The file path a request-target names, relative to the served root:
 * percent-decoded, "." and empty segments dropped, ".." applied. Writes it
 * NUL-terminated into out (without a leading '/'; "" for the root) and sets
 * *dir when the target ends with '/' (or names the root). Returns 0, or
 * -400 for a target that is not an origin-form or absolute-form path, has a
 * bad or NUL %-escape, or climbs above the root with "..", or -414 when the
 * decoded path does not fit in out_size.
 */
int http_target_path(const char *target, size_t len, char *out, size_t out_size, bool *dir);

/* The reason phrase of a status code Knot sends ("Not Found"). */
const char *http_reason(int status);

#endif
