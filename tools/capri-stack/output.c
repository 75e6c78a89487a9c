/* --output: see output.h. */
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int output_begin(struct output *o, const char *target, struct error *err)
{
    memset(o, 0, sizeof *o);
    o->target = target;
    o->fd = -1;
    struct stat st;
    if (lstat(target, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            /* A device, FIFO, symlink, ...: never replace it, write into it. */
            o->path = target;
            return 0;
        }
        o->mode = (unsigned)(st.st_mode & 07777);
    } else if (errno == ENOENT) {
        mode_t mask = umask(0);
        umask(mask);
        o->mode = 0666u & ~(unsigned)mask;
    } else {
        return errorf(err, "cannot write %s: %s", target, strerror(errno));
    }
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    int dir_len = slash ? (int)(slash - target) + 1 : 0;
    o->temp = xasprintf("%.*s.%s.capri-stack-XXXXXX", dir_len, target, base);
    o->fd = mkstemp(o->temp);
    if (o->fd < 0) {
        int e = errno;
        if (dir_len == 0)
            errorf(err, "cannot write %s: cannot create a temporary file in the current "
                   "directory: %s", target, strerror(e));
        else
            errorf(err, "cannot write %s: cannot create a temporary file in %.*s: %s", target,
                   dir_len > 1 ? dir_len - 1 : dir_len, target, strerror(e));
        free(o->temp);
        o->temp = NULL;
        return -1;
    }
    if (fchmod(o->fd, (mode_t)o->mode) != 0) {
        int e = errno;
        close(o->fd);
        unlink(o->temp);
        free(o->temp);
        o->temp = NULL;
        return errorf(err, "cannot write %s: %s", target, strerror(e));
    }
    o->path = o->temp;
    return 0;
}

FILE *output_stream(struct output *o, struct error *err)
{
    FILE *f;
    if (o->temp) {
        f = fdopen(o->fd, "w");
        if (f)
            o->fd = -1;
    } else {
        f = fopen(o->path, "w");
    }
    if (!f)
        errorf(err, "cannot write %s: %s", o->target, strerror(errno));
    return f;
}

int output_end(struct output *o, FILE *stream, int ok, struct error *err)
{
    int rc = ok ? 0 : -1;
    if (stream) {
        int e = 0;
        if (fflush(stream) != 0 || ferror(stream))
            e = errno ? errno : EIO;
        if (fclose(stream) != 0 && e == 0)
            e = errno ? errno : EIO;
        if (e && rc == 0)
            rc = errorf(err, "cannot write %s: %s%s", o->target, strerror(e),
                        o->temp ? " (the file was left as it was)" : "");
    }
    if (o->fd >= 0) {
        close(o->fd);
        o->fd = -1;
    }
    if (o->temp) {
        if (rc == 0 && rename(o->temp, o->target) != 0)
            rc = errorf(err, "cannot write %s: renaming %s over it: %s", o->target, o->temp,
                        strerror(errno));
        if (rc != 0)
            unlink(o->temp); /* only ever our own temporary file */
        free(o->temp);
        o->temp = NULL;
    }
    return rc;
}

int output_check_not_input(const char *target, const char *const *inputs, size_t count,
                           struct error *err)
{
    struct stat out;
    int have_out = stat(target, &out) == 0;
    for (size_t i = 0; i < count; i++) {
        struct stat in;
        if (strcmp(target, inputs[i]) == 0 ||
            (have_out && stat(inputs[i], &in) == 0 && in.st_dev == out.st_dev &&
             in.st_ino == out.st_ino))
            return errorf(err, "--output %s is the input file %s: refusing to overwrite an "
                          "input; write the report to another file", target, inputs[i]);
    }
    return 0;
}
