/*
 * Knot: a static-file HTTP/1.1 server written the plain way, one thread
 * per connection, blocking calls and state in locals. Built with capri-cc,
 * each connection is a capri thread: its blocking reads and writes park it
 * on its scheduler's reactor, and its stack is as deep as its code needs.
 *
 *   knot --root DIR [--port N] [--bind ADDR] [--schedulers K]
 *
 * Listens on 127.0.0.1:8080 unless told otherwise (IPv4 only).
 * Keep-alive (HTTP/1.0 clients that ask for it are told so) and pipelined
 * requests; GET and HEAD (405 otherwise); 400, 404, 413, 414, 431 and 505
 * where they apply; a directory named without its trailing slash is
 * redirected (301) to it; never a file outside DIR (openat2 with
 * RESOLVE_BENEATH), and only regular files (a FIFO or device in DIR is
 * 404, opened without waiting); sendfile for large files. SIGINT and
 * SIGTERM stop accepting, close idle connections, and give requests in
 * progress 10 s to finish (a second signal cuts them at once). The
 * open-file soft limit is raised to the hard limit at start-up; a
 * connection on which nothing moves for 30 s, in either direction, is
 * closed; a connection Knot closes while the client may still be sending
 * ends with a FIN and lingers up to 2 s reading what comes (a reset could
 * destroy the response on the client's side).
 */
#define _GNU_SOURCE
#include <capri.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <poll.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

/* A connection's request buffer lives on its thread's stack while the
 * thread waits for the next request, so it is most of an idle connection's
 * memory: it holds what clients commonly send, and a request whose header
 * section is larger moves to a heap buffer of the largest size accepted
 * for as long as it needs it. */
#define REQUEST_BUFFER 1536
#define REQUEST_MAX 8192
/* Files up to this size go out with the header in one writev; larger ones
 * with sendfile. */
#define SMALL_FILE 16384
/* An idle keep-alive connection, a client sending a request slowly, or one
 * that stops reading its response, is closed after this many seconds
 * without a byte moving (SO_RCVTIMEO and SO_SNDTIMEO). */
#define IDLE_SECONDS 30
/* After SIGINT or SIGTERM, connections still answering (a large file to a
 * slow client) get this long; then they are cut. A second signal cuts them
 * at once. */
#define STOP_GRACE_SECONDS 10
/* When Knot closes a connection the client may still be sending on (after
 * an error, or a request that asked to close), it reads and drops what
 * comes for up to this long first: closing with unread bytes sends a reset,
 * which can destroy the response before the client reads it. */
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (256 * 1024)

static const struct http_limits limits = {
    .max_target = 2048,
    .max_header = REQUEST_MAX,
    .max_fields = 100,
    .max_body = 1 << 20,
};

static int root_fd = -1;
static int listen_fd = -1;
static int stop_pipe[2] = { -1, -1 };
static volatile int stopping;

/* Live connections, so a stop can wake the idle ones. */
static capri_mutex_t conns_lock;
static capri_cond_t conns_drained;
static unsigned conns_live;
#define MAX_TRACKED 65536
static int conn_fds[MAX_TRACKED];

/* ---- Responses --------------------------------------------------------------- */

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" }, { ".htm", "text/html; charset=utf-8" },
        { ".css", "text/css" },                  { ".js", "text/javascript" },
        { ".json", "application/json" },         { ".txt", "text/plain; charset=utf-8" },
        { ".png", "image/png" },                 { ".jpg", "image/jpeg" },
        { ".jpeg", "image/jpeg" },               { ".gif", "image/gif" },
        { ".svg", "image/svg+xml" },             { ".ico", "image/x-icon" },
        { ".pdf", "application/pdf" },           { ".wasm", "application/wasm" },
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* The Date header's value, formatted once a second per scheduler thread
 * that asks (a thread-local cache: capri threads on one scheduler share
 * it, which is what a cache wants). */
static const char *http_date(void)
{
    static __thread time_t cached_at;
    static __thread char text[40];
    time_t now = time(NULL);
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    return text;
}

/* Writes all of iov (the kernel's blocking write semantics, which libcapri
 * keeps for capri threads). */
static bool write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return true;
}

/* What happens to the connection after a response: closed, or kept for
 * the next request (an HTTP/1.0 client keeps it only when told so). */
enum conn_after { CONN_CLOSE, CONN_KEEP, CONN_KEEP_HTTP10 };

static enum conn_after conn_after(const struct http_request *req)
{
    if (!req->keep_alive)
        return CONN_CLOSE;
    return req->version_minor == 0 ? CONN_KEEP_HTTP10 : CONN_KEEP;
}

static int header(char *buf, size_t size, int status, const char *type, uint64_t length,
                  enum conn_after after, const char *extra)
{
    static const char *const connection[] = {
        [CONN_CLOSE] = "Connection: close\r\n",
        [CONN_KEEP] = "",
        [CONN_KEEP_HTTP10] = "Connection: keep-alive\r\n",
    };
    return snprintf(buf, size,
                    "HTTP/1.1 %d %s\r\nServer: knot\r\nDate: %s\r\nContent-Type: %s\r\n"
                    "Content-Length: %llu\r\n%s%s\r\n",
                    status, http_reason(status), http_date(), type, (unsigned long long)length,
                    connection[after], extra ? extra : "");
}

/* The answering code is kept out of the connection function, and every
 * call from that function is a checkpoint, so that a waiting connection
 * holds one page (below). -DKNOT_NAIVE builds Knot as code written
 * without regard to its stack would be: everything may be inlined, no
 * checkpoint is forced. bench/knot/memory.py measures both, and the naive
 * one with -capri-shrink-yield-frames, which moves dead buffers out of the
 * waiting frame by itself. */
#ifdef KNOT_NAIVE
#define KNOT_ANSWERING static
#define KNOT_CONNECTION static
#else
#define KNOT_ANSWERING static __attribute__((noinline))
#define KNOT_CONNECTION __attribute__((annotate("capri.checkpoint_all"))) static
#endif

/* An error page; false when the connection must close. Not inlined, nor
 * respond: their buffers must not join the connection thread's own frame,
 * which stays on its stack while it waits. */
KNOT_ANSWERING bool send_error(int fd, int status, enum conn_after after,
                                                 bool head)
{
    char body[128], head_buf[512];
    int blen = snprintf(body, sizeof body, "%d %s\n", status, http_reason(status));
    const char *extra = status == 405 ? "Allow: GET, HEAD\r\n" : NULL;
    int hlen = header(head_buf, sizeof head_buf, status, "text/plain; charset=utf-8",
                      (uint64_t)blen, after, extra);
    struct iovec iov[2] = { { head_buf, (size_t)hlen }, { body, head ? 0 : (size_t)blen } };
    return write_all(fd, iov, head ? 1 : 2) && after != CONN_CLOSE;
}

/* A directory named without its trailing slash: 301 to the name with it
 * (the slash goes before any query), so that relative links in its index
 * resolve inside it. */
KNOT_ANSWERING bool send_redirect(int fd, const struct http_request *req,
                                                    bool head)
{
    const char *q = memchr(req->target, '?', req->target_len);
    size_t path_len = q ? (size_t)(q - req->target) : req->target_len;
    char location[2200], head_buf[2560];
    int n = snprintf(location, sizeof location, "Location: %.*s/%.*s\r\n", (int)path_len,
                     req->target, (int)(req->target_len - path_len), req->target + path_len);
    if (n < 0 || (size_t)n >= sizeof location)
        return send_error(fd, 414, CONN_CLOSE, head);
    static const char body[] = "301 Moved Permanently\n";
    enum conn_after after = conn_after(req);
    int hlen = header(head_buf, sizeof head_buf, 301, "text/plain; charset=utf-8",
                      sizeof body - 1, after, location);
    struct iovec iov[2] = { { head_buf, (size_t)hlen }, { (void *)body, head ? 0 : sizeof body - 1 } };
    return write_all(fd, iov, head ? 1 : 2) && after != CONN_CLOSE;
}

/* Opens path under the root: never a file outside it, whatever symbolic
 * links say (RESOLVE_BENEATH). */
static int open_beneath(const char *path)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    /* O_NONBLOCK: opening a FIFO (or a device) must not wait for a
     * writer; a regular file ignores the flag, and anything else gets 404
     * after the fstat. */
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, root_fd, path[0] ? path : ".", &how, sizeof how);
}

/* A small file: read it here and send header and body in one writev. Its
 * buffer is in this function's frame, so the connection thread holds it
 * only while it answers (libcapri grows the stack for the call and takes
 * the chunk back when the thread waits for its next request). */
KNOT_ANSWERING bool send_small(int sock, int file, const char *hdr, int hlen,
                                                 size_t size)
{
    char body[SMALL_FILE];
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(file, body + got, size - got, (off_t)got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    struct iovec iov[2] = { { (void *)hdr, (size_t)hlen }, { body, size } };
    return write_all(sock, iov, 2);
}

static bool send_large(int sock, int file, const char *hdr, int hlen, size_t size)
{
    /* The header goes out by itself, as nginx sends it. Holding it back
     * with MSG_MORE for the file's first bytes saves a segment, but under
     * BBR's pacing (the congestion control of many VMs) it cost 25% more
     * CPU per 100 KiB response, in the pacing timer that sendfile starts
     * (docs/benchmarks.md); under CUBIC it saved about 10%. */
    if (send(sock, hdr, (size_t)hlen, 0) != hlen)
        return false;
    off_t off = 0;
    while ((size_t)off < size) {
        ssize_t w = sendfile(sock, file, &off, size - (size_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
    }
    return true;
}

/* Answers one parsed request; false when the connection must close. */
KNOT_ANSWERING bool respond(int sock, const struct http_request *req)
{
    bool head = req->method == HTTP_HEAD;
    if (req->method == HTTP_OTHER)
        return send_error(sock, 405, conn_after(req), false);
    char path[1024];
    bool dir;
    int rc = http_target_path(req->target, req->target_len, path, sizeof path - 16, &dir);
    if (rc < 0)
        return send_error(sock, -rc, CONN_CLOSE, head);
    int file = open_beneath(path);
    struct stat st;
    if (file >= 0 && fstat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* A directory: its index.html. */
        close(file);
        if (!dir)
            return send_redirect(sock, req, head);
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, "%sindex.html", n ? "/" : "");
        file = open_beneath(path);
        if (file >= 0 && fstat(file, &st) != 0) {
            close(file);
            file = -1;
        }
    }
    if (file < 0) {
        int status = errno == EACCES ? 403 : 404;
        return send_error(sock, status, conn_after(req), head);
    }
    if (!S_ISREG(st.st_mode)) {
        close(file);
        return send_error(sock, 404, conn_after(req), head);
    }
    char hdr[512];
    size_t size = (size_t)st.st_size;
    int hlen = header(hdr, sizeof hdr, 200, content_type(path), size, conn_after(req), NULL);
    bool ok;
    if (head) {
        struct iovec iov = { hdr, (size_t)hlen };
        ok = write_all(sock, &iov, 1);
    } else if (size <= SMALL_FILE) {
        ok = send_small(sock, file, hdr, hlen, size);
    } else {
        ok = send_large(sock, file, hdr, hlen, size);
    }
    close(file);
    return ok && req->keep_alive;
}

/* ---- Connections ------------------------------------------------------------------ */

static void track(int fd, bool add)
{
    capri_mutex_lock(&conns_lock);
    if (add) {
        conns_live++;
        if ((unsigned)fd < MAX_TRACKED)
            conn_fds[fd] = 1;
    } else {
        if ((unsigned)fd < MAX_TRACKED)
            conn_fds[fd] = 0;
        if (--conns_live == 0)
            capri_cond_broadcast(&conns_drained);
    }
    capri_mutex_unlock(&conns_lock);
}

/* Reads and discards a request body of `left` bytes that did not arrive
 * with the header section. */
KNOT_ANSWERING bool discard(int sock, uint64_t left)
{
    char sink[1024];
    while (left) {
        ssize_t r = read(sock, sink, left < sizeof sink ? left : sizeof sink);
        if (r <= 0)
            return false;
        left -= (uint64_t)r;
    }
    return true;
}

/* Closes a connection the client may still be writing to: no more output,
 * then what the client sends is read and dropped until it closes, or for
 * LINGER_MS, or LINGER_MAX_BYTES. */
KNOT_ANSWERING void close_lingering(int sock)
{
    char sink[1024];
    size_t dropped = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    shutdown(sock, SHUT_WR);
    while (dropped < LINGER_MAX_BYTES && !stopping) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= LINGER_MS)
            break;
        struct pollfd p = { sock, POLLIN, 0 };
        if (poll(&p, 1, (int)(LINGER_MS - spent)) <= 0)
            break;
        ssize_t r = read(sock, sink, sizeof sink);
        if (r <= 0)
            break;
        dropped += (size_t)r;
    }
    close(sock);
}

/* Every call from here is a checkpoint: the thread's first chunk holds
 * only this frame and what a wait for the next request needs, and answering
 * (the path, the headers, a small file's bytes) runs on a chunk the thread
 * gives back when it waits again. An idle connection keeps one page. */
KNOT_CONNECTION void *connection(void *arg)
{
    int sock = (int)(intptr_t)arg;
    char small[REQUEST_BUFFER];
    char *buf = small, *large = NULL;
    size_t cap = sizeof small, have = 0;
    bool open_ = true;
    bool peer_closed = false; /* the client closed, reset or went silent */
    while (open_ && !stopping) {
        struct http_request req;
        long n = http_parse_request(buf, have, &limits, &req);
        if (n == 0) {
            if (have == cap) {
                if (cap == REQUEST_MAX || !(large = malloc(REQUEST_MAX))) {
                    send_error(sock, 431, CONN_CLOSE, false);
                    break;
                }
                memcpy(large, small, have);
                buf = large;
                cap = REQUEST_MAX;
            }
            ssize_t r = read(sock, buf + have, cap - have);
            if (r <= 0) {
                peer_closed = true; /* closed, reset, timed out (SO_RCVTIMEO) or stopping */
                break;
            }
            have += (size_t)r;
            continue;
        }
        if (n < 0) {
            send_error(sock, (int)-n, CONN_CLOSE, false);
            break;
        }
        /* The body, if any: consumed from the buffer, the rest read and
         * dropped (a static server has no use for it). */
        size_t used = (size_t)n;
        uint64_t body = req.content_length;
        uint64_t in_buf = have - used < body ? have - used : body;
        open_ = respond(sock, &req);
        used += (size_t)in_buf;
        if (open_ && body > in_buf) {
            open_ = discard(sock, body - in_buf);
            peer_closed = !open_;
        }
        /* Pipelined requests stay for the next round, back in the small
         * buffer when they fit. */
        have -= used;
        if (large && have <= sizeof small) {
            memcpy(small, large + used, have);
            free(large);
            large = NULL;
            buf = small;
            cap = sizeof small;
        } else {
            memmove(buf, buf + used, have);
        }
    }
    free(large);
    track(sock, false);
    if (peer_closed || stopping)
        close(sock);
    else
        close_lingering(sock);
    return NULL;
}

static void *acceptor(void *arg)
{
    (void)arg;
    struct timeval idle = { IDLE_SECONDS, 0 };
    while (!stopping) {
        int sock = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (sock < 0) {
            if (errno == EBADF || errno == EINVAL || stopping)
                break; /* the listening socket was closed: stop */
            if (errno == EMFILE || errno == ENFILE) {
                capri_sleep_ns(10000000); /* out of descriptors: let some close */
                continue;
            }
            continue;
        }
        int one = 1;
        setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
        setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof idle);
        track(sock, true);
        capri_t t;
        capri_attr_t attr = { 0 };
        attr.detached = 1;
        if (capri_spawn(&t, connection, (void *)(intptr_t)sock, &attr) != 0) {
            track(sock, false);
            close(sock);
        }
    }
    return NULL;
}

/* ---- Stopping ------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    /* Async-signal-safe: the stopper thread, parked reading the pipe, does
     * the rest. */
    char c = 1;
    ssize_t w = write(stop_pipe[1], &c, 1);
    (void)w;
}

static void cut_connections(int how)
{
    capri_mutex_lock(&conns_lock);
    for (int fd = 0; fd < MAX_TRACKED; fd++)
        if (conn_fds[fd])
            shutdown(fd, how);
    capri_mutex_unlock(&conns_lock);
}

static void *stopper(void *arg)
{
    (void)arg;
    char c;
    while (read(stop_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    stopping = 1;
    /* Closing the listening socket wakes the acceptor with EBADF; idle
     * connections get end-of-file on their next read. */
    close(listen_fd);
    cut_connections(SHUT_RD);
    /* Those still answering get STOP_GRACE_SECONDS, or until a second
     * signal; then their writes fail too. */
    struct pollfd p = { stop_pipe[0], POLLIN, 0 };
    for (int waited = 0; waited < STOP_GRACE_SECONDS * 10; waited++) {
        capri_mutex_lock(&conns_lock);
        unsigned live = conns_live;
        capri_mutex_unlock(&conns_lock);
        if (live == 0 || poll(&p, 1, 100) > 0)
            break;
    }
    cut_connections(SHUT_RDWR);
    return NULL;
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: knot --root DIR [--port N] [--bind ADDR] [--schedulers K]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *root = NULL, *bind_addr = "127.0.0.1";
    long port = 8080, schedulers = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(a, "--root") == 0 && v)
            root = v;
        else if (strcmp(a, "--bind") == 0 && v)
            bind_addr = v;
        else if (strcmp(a, "--port") == 0 && v && (port = strtol(v, &end, 10), *end == 0) &&
                 port >= 0 && port < 65536)
            ;
        else if (strcmp(a, "--schedulers") == 0 && v &&
                 (schedulers = strtol(v, &end, 10), *end == 0) && schedulers > 0)
            ;
        else
            usage();
    }
    if (!root)
        usage();
    /* One descriptor per connection: the soft limit (often 1,024) would
     * leave clients waiting in the backlog long before memory runs out. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        fprintf(stderr, "knot: %s: %s\n", root, strerror(errno));
        return 1;
    }
    if (schedulers && capri_config(CAPRI_CONFIG_SCHEDULERS, schedulers) != 0) {
        fprintf(stderr, "knot: cannot use %ld schedulers\n", schedulers);
        return 1;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
        fprintf(stderr, "knot: --bind %s: not an IPv4 address\n", bind_addr);
        return 1;
    }
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listen_fd, 4096) != 0) {
        fprintf(stderr, "knot: %s:%ld: %s\n", bind_addr, port, strerror(errno));
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(listen_fd, (struct sockaddr *)&addr, &alen);
    if (pipe2(stop_pipe, O_CLOEXEC) != 0)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    capri_mutex_init(&conns_lock);
    capri_cond_init(&conns_drained);

    printf("knot: serving %s on http://%s:%d/\n", root, bind_addr, ntohs(addr.sin_port));
    fflush(stdout);
    capri_t acc, stop;
    if (capri_spawn(&stop, stopper, NULL, NULL) != 0 || capri_spawn(&acc, acceptor, NULL, NULL) != 0) {
        fprintf(stderr, "knot: cannot start threads\n");
        return 1;
    }
    capri_join(acc, NULL);
    capri_join(stop, NULL);
    /* Requests in progress finish; idle connections saw end-of-file. */
    capri_mutex_lock(&conns_lock);
    while (conns_live > 0)
        capri_cond_wait(&conns_drained, &conns_lock);
    capri_mutex_unlock(&conns_lock);
    printf("knot: stopped\n");
    return 0;
}
