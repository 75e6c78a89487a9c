/* Knot's request parser: what a client sends and what Knot must answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static int failures;
#define CHECK(c)                                                                         \
    do {                                                                                 \
        if (!(c)) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c);         \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

static const struct http_limits LIM = { 64, 512, 16, 1024 };

static long parse(const char *s, struct http_request *r)
{
    return http_parse_request(s, strlen(s), &LIM, r);
}

/* Every proper prefix of a complete request needs more input. */
static void check_prefixes(const char *s)
{
    struct http_request r;
    size_t n = strlen(s);
    long whole = http_parse_request(s, n, &LIM, &r);
    CHECK(whole > 0);
    for (size_t k = 0; k < (size_t)whole; k++) {
        long got = http_parse_request(s, k, &LIM, &r);
        if (got != 0) {
            fprintf(stderr, "prefix %zu of %s: %ld\n", k, s, got);
            failures++;
        }
    }
}

static void requests(void)
{
    struct http_request r;
    const char *get = "GET /a/b.html?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n\r\n";
    CHECK(parse(get, &r) == (long)strlen(get));
    CHECK(r.method == HTTP_GET && r.version_minor == 1 && r.keep_alive);
    CHECK(r.target_len == 13 && memcmp(r.target, "/a/b.html?x=1", 13) == 0);
    check_prefixes(get);

    /* Pipelined: the first request's length only. */
    char two[200];
    snprintf(two, sizeof two, "%sHEAD / HTTP/1.1\r\nHost: h\r\n\r\n", get);
    CHECK(parse(two, &r) == (long)strlen(get));
    CHECK(parse(two + strlen(get), &r) > 0 && r.method == HTTP_HEAD);

    /* Bare LF line ends, leading empty lines. */
    const char *lf = "\r\n\nGET / HTTP/1.1\nHost: h\n\n";
    CHECK(parse(lf, &r) == (long)strlen(lf));
    /* HTTP/1.0: closes unless asked to keep alive; no Host needed. */
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", &r) > 0 && !r.keep_alive && r.version_minor == 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r) > 0 && r.keep_alive);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n", &r) > 0 &&
          !r.keep_alive);
    /* A later minor version reads as 1.1; another major is 505. */
    CHECK(parse("GET / HTTP/1.7\r\nHost: h\r\n\r\n", &r) > 0 && r.version_minor == 1);
    CHECK(parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n", &r) == -505);
    /* Other methods parse (the server answers 405). */
    CHECK(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", &r) > 0 &&
          r.method == HTTP_OTHER && r.content_length == 5);
    /* OWS around values. */
    CHECK(parse("GET / HTTP/1.1\r\nHost:h\r\nContent-Length: \t 7 \r\n\r\n", &r) > 0 &&
          r.content_length == 7);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n",
                &r) > 0);
}

static void rejects(void)
{
    struct http_request r;
    CHECK(parse("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", &r) == -400);
    CHECK(parse("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", &r) == -400);
    CHECK(parse("GET / HTTX/1.1\r\nHost: h\r\n\r\n", &r) == -400);
    CHECK(parse("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", &r) == -400);
    CHECK(parse("GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", &r) == -400);
    CHECK(parse("GET / HTTP/1.1\rHost: h\r\n\r\n", &r) == -400);           /* bare CR */
    CHECK(parse("GET / HTTP/1.1\r\nHost : h\r\n\r\n", &r) == -400);        /* space before : */
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", &r) == -400);
    CHECK(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n", &r) == -400);
    CHECK(parse("GET / HTTP/1.1\r\n\r\n", &r) == -400);                    /* no Host */
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &r) == -400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", &r) == -400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                &r) == -400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                &r) == -400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n", &r) == -413);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &r) == -501);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", &r) == -400);

    /* Limits, found before the request is complete. */
    char big[700];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    big[sizeof big - 1] = 0;
    CHECK(parse(big, &r) == -414);
    char hdr[700];
    int n = snprintf(hdr, sizeof hdr, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    memset(hdr + n, 'v', sizeof hdr - (size_t)n - 1);
    hdr[sizeof hdr - 1] = 0;
    CHECK(parse(hdr, &r) == -431);
    char many[600] = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 20; i++)
        strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    CHECK(parse(many, &r) == -431);
    char blank[600];
    memset(blank, '\n', sizeof blank - 1);
    blank[sizeof blank - 1] = 0;
    CHECK(parse(blank, &r) == -431);
}

static int path(const char *target, const char *want, int want_dir)
{
    char out[32];
    bool dir = false;
    int rc = http_target_path(target, strlen(target), out, sizeof out, &dir);
    if (rc != 0)
        return rc;
    if (strcmp(out, want) != 0 || (int)dir != want_dir) {
        fprintf(stderr, "path %s: got '%s' dir %d, want '%s' dir %d\n", target, out, dir,
                want, want_dir);
        failures++;
    }
    return 0;
}

static void paths(void)
{
    CHECK(path("/", "", 1) == 0);
    CHECK(path("/index.html", "index.html", 0) == 0);
    CHECK(path("/a/b/", "a/b", 1) == 0);
    CHECK(path("/a//./b?q=/../..", "a/b", 0) == 0);
    CHECK(path("/a/../b", "b", 0) == 0);
    CHECK(path("/a/b/..", "a", 1) == 0);
    CHECK(path("/%61%2e%62", "a.b", 0) == 0);
    CHECK(path("http://example.com/x/y", "x/y", 0) == 0);
    CHECK(path("/..", "", 0) == -400);
    CHECK(path("/a/../../etc/passwd", "", 0) == -400);
    CHECK(path("/%2e%2e/etc/passwd", "", 0) == -400);
    CHECK(path("/a%2fb", "", 0) == -400);
    CHECK(path("/a%00b", "", 0) == -400);
    CHECK(path("/a%4", "", 0) == -400);
    CHECK(path("/a%zz", "", 0) == -400);
    CHECK(path("*", "", 0) == -400);
    CHECK(path("relative", "", 0) == -400);
    CHECK(path("http://host", "", 0) == -400);
    CHECK(path("/0123456789/0123456789/0123456789", "", 0) == -414);
}

int main(void)
{
    requests();
    rejects();
    paths();
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("http: all checks passed\n");
    return 0;
}
