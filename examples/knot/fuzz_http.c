/* libFuzzer target: Knot's request parser and path mapping on any bytes.
 * Besides crashes (ASan, UBSan), it checks what the server relies on: a
 * parsed request lies inside the input, parsing is the same with only the
 * request's own bytes, and a mapped path never climbs out of the root. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct http_limits lim = { 256, 2048, 32, 1 << 20 };
    const char *buf = (const char *)data;
    struct http_request r;
    long n = http_parse_request(buf, size, &lim, &r);
    if (n > (long)size)
        abort();
    if (n <= 0)
        return 0;
    if (r.target < buf || r.target + r.target_len > buf + n)
        abort();
    struct http_request again;
    if (http_parse_request(buf, (size_t)n, &lim, &again) != n)
        abort();
    char path[128];
    bool dir;
    if (http_target_path(r.target, r.target_len, path, sizeof path, &dir) == 0) {
        size_t len = strnlen(path, sizeof path);
        if (len == sizeof path || path[0] == '/')
            abort();
        /* No segment is "..", ".", or empty. */
        for (const char *s = path; *s;) {
            const char *e = strchr(s, '/');
            size_t seg = e ? (size_t)(e - s) : strlen(s);
            if (seg == 0 || (seg == 1 && s[0] == '.') || (seg == 2 && s[0] == '.' && s[1] == '.'))
                abort();
            s += seg + (e != NULL);
        }
    }
    return 0;
}
