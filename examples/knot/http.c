/*
 * The request parser (http.h). It reads strictly where RFC 9112 says a
 * server MUST reject (whitespace before a field's colon, obsolete line
 * folding, conflicting Content-Length values, a missing or repeated Host in
 * HTTP/1.1), since lenient parsing is how request smuggling starts, and
 * leniently where it allows (a bare LF as a line end, empty lines before
 * the request line).
 */
#include "http.h"

#include <string.h>

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Visible characters, obs-text and the whitespace a field value may hold. */
static bool is_field_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* A request-target character: visible ASCII (RFC 3986 plus what clients
 * send unescaped in practice); never whitespace or controls. */
static bool is_target_char(unsigned char c) { return c > 0x20 && c < 0x7f; }

static bool ieq(const char *a, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)lit[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* The end of the line starting at p (the index of its LF), or `len` when
 * the buffer has no LF yet; *bad when a CR stands anywhere but before
 * the LF. */
static size_t line_end(const char *buf, size_t p, size_t len, bool *bad)
{
    const char *lf = memchr(buf + p, '\n', len - p);
    size_t e = lf ? (size_t)(lf - buf) : len;
    const char *cr = memchr(buf + p, '\r', e - p);
    if (cr && (size_t)(cr - buf) != e - 1)
        *bad = true;
    if (!lf && cr && (size_t)(cr - buf) != len - 1)
        *bad = true;
    return e;
}

/* Trims optional whitespace (SP, HTAB) from both ends of [*s, *e). */
static void trim_ows(const char *buf, size_t *s, size_t *e)
{
    while (*s < *e && (buf[*s] == ' ' || buf[*s] == '\t'))
        (*s)++;
    while (*e > *s && (buf[*e - 1] == ' ' || buf[*e - 1] == '\t'))
        (*e)--;
}

/* Connection: a comma-separated token list. */
static void connection_tokens(const char *v, size_t n, bool *close, bool *keep)
{
    size_t i = 0;
    while (i < n) {
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (s < e && (v[s] == ' ' || v[s] == '\t'))
            s++;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (ieq(v + s, e - s, "close"))
            *close = true;
        else if (ieq(v + s, e - s, "keep-alive"))
            *keep = true;
        i++; /* the comma */
    }
}

/* Content-Length: 1*DIGIT; returns false on anything else or overflow. */
static bool parse_length(const char *v, size_t n, uint64_t *out)
{
    if (n == 0)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        unsigned d = (unsigned)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

long http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
                        struct http_request *req)
{
    memset(req, 0, sizeof *req);
    size_t p = 0;
    /* Empty lines before the request line (bounded by the header limit). */
    while (p < len && (buf[p] == '\r' || buf[p] == '\n')) {
        if (buf[p] == '\r' && p + 1 < len && buf[p + 1] != '\n')
            return -400;
        p++;
        if (p > lim->max_header)
            return -431;
    }
    size_t start = p;
    bool bad = false;

    /* method SP request-target SP HTTP-version */
    size_t m = p;
    while (m < len && is_tchar((unsigned char)buf[m]))
        m++;
    if (m == len)
        return m - start > 32 ? -400 : 0; /* no method is that long */
    if (m == p || buf[m] != ' ')
        return -400;
    size_t mlen = m - p;
    req->method = (mlen == 3 && memcmp(buf + p, "GET", 3) == 0)    ? HTTP_GET
                  : (mlen == 4 && memcmp(buf + p, "HEAD", 4) == 0) ? HTTP_HEAD
                                                                   : HTTP_OTHER;
    size_t t = m + 1;
    size_t te = t;
    while (te < len && is_target_char((unsigned char)buf[te])) {
        te++;
        if (te - t > lim->max_target)
            return -414;
    }
    if (te == len)
        return 0;
    if (te == t || buf[te] != ' ')
        return -400;
    req->target = buf + t;
    req->target_len = te - t;

    size_t v = te + 1;
    size_t le = line_end(buf, v, len, &bad);
    if (bad)
        return -400;
    if (le == len) {
        if (len - start > lim->max_header)
            return -431;
        return len - v > 10 ? -400 : 0; /* "HTTP/1.1\r" and no more */
    }
    size_t ve = le > v && buf[le - 1] == '\r' ? le - 1 : le;
    if (ve - v != 8 || memcmp(buf + v, "HTTP/", 5) != 0 || buf[v + 6] != '.' ||
        buf[v + 5] < '0' || buf[v + 5] > '9' || buf[v + 7] < '0' || buf[v + 7] > '9')
        return -400;
    if (buf[v + 5] != '1')
        return -505;
    req->version_minor = buf[v + 7] == '0' ? 0 : 1;

    /* Header fields, up to the empty line. */
    bool conn_close = false, conn_keep = false, have_length = false;
    unsigned hosts = 0, fields = 0;
    p = le + 1;
    for (;;) {
        if (p - start > lim->max_header)
            return -431;
        size_t e = line_end(buf, p, len, &bad);
        if (bad)
            return -400;
        if (e == len)
            return len - start > lim->max_header ? -431 : 0;
        size_t ce = e > p && buf[e - 1] == '\r' ? e - 1 : e;
        if (e + 1 - start > lim->max_header)
            return -431;
        if (ce == p) { /* the empty line: the header section ends */
            p = e + 1;
            break;
        }
        if (buf[p] == ' ' || buf[p] == '\t')
            return -400; /* obsolete line folding */
        if (++fields > lim->max_fields)
            return -431;
        size_t n = p;
        while (n < ce && is_tchar((unsigned char)buf[n]))
            n++;
        if (n == p || n == ce || buf[n] != ':')
            return -400; /* no name, or whitespace before the colon */
        size_t vs = n + 1, vend = ce;
        for (size_t i = vs; i < vend; i++)
            if (!is_field_char((unsigned char)buf[i]))
                return -400;
        trim_ows(buf, &vs, &vend);
        const char *name = buf + p;
        size_t nlen = n - p;
        if (ieq(name, nlen, "content-length")) {
            uint64_t x;
            if (!parse_length(buf + vs, vend - vs, &x))
                return -400;
            if (have_length && x != req->content_length)
                return -400;
            have_length = true;
            req->content_length = x;
        } else if (ieq(name, nlen, "transfer-encoding")) {
            return -501;
        } else if (ieq(name, nlen, "connection")) {
            connection_tokens(buf + vs, vend - vs, &conn_close, &conn_keep);
        } else if (ieq(name, nlen, "host")) {
            hosts++;
        }
        p = e + 1;
    }
    if (req->version_minor >= 1 && hosts != 1)
        return -400;
    if (req->content_length > lim->max_body)
        return -413;
    req->keep_alive = req->version_minor >= 1 ? !conn_close : (conn_keep && !conn_close);
    return (long)p;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_target_path(const char *target, size_t len, char *out, size_t out_size, bool *dir)
{
    size_t i = 0;
    /* absolute-form: scheme "://" authority, then the path. */
    if (len >= 7 && ieq(target, 7, "http://"))
        i = 7;
    else if (len >= 8 && ieq(target, 8, "https://"))
        i = 8;
    if (i) {
        while (i < len && target[i] != '/' && target[i] != '?')
            i++;
        if (i == len || target[i] == '?')
            return -400;
    }
    if (i >= len || target[i] != '/' || out_size == 0)
        return -400;
    size_t end = i;
    while (end < len && target[end] != '?' && target[end] != '#')
        end++;

    size_t o = 0; /* bytes of out used; segments are joined by '/' */
    *dir = false;
    while (i < end) {
        i++; /* the '/' */
        /* Decode one segment into out at o (after a separator). */
        size_t seg = o ? o + 1 : 0;
        size_t w = seg;
        while (i < end && target[i] != '/') {
            char c = target[i++];
            if (c == '%') {
                if (end - i < 2)
                    return -400;
                int hi = hex_value(target[i]), lo = hex_value(target[i + 1]);
                if (hi < 0 || lo < 0)
                    return -400;
                c = (char)(hi * 16 + lo);
                if (c == '\0')
                    return -400;
                i += 2;
            }
            if (c == '/')
                return -400; /* an escaped slash would join segments */
            if (w + 1 >= out_size)
                return -414;
            out[w++] = c;
        }
        size_t slen = w - seg;
        bool last = i >= end;
        if (slen == 0 || (slen == 1 && out[seg] == '.')) {
            *dir = last;
            continue;
        }
        if (slen == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            if (o == 0)
                return -400; /* above the root */
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* the separator */
            *dir = last;
            continue;
        }
        if (seg)
            out[o] = '/';
        o = w;
        *dir = false;
    }
    if (o == 0)
        *dir = true;
    out[o] = '\0';
    return 0;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
