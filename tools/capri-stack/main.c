/*
 * capri-stack: report worst-case stack usage of programs built with the
 * capri plugin, and fail CI on the findings the user selects.
 *
 *   capri-stack [--root FN]... [--format text|json|sarif|dot] [--output FILE]
 *               [--fail-on LIST] [--external-reserve BYTES]
 *               [--indirect c-type|c-type-strict|ir-type]
 *               [--dead-state-threshold BYTES] [--live-state-threshold BYTES] FILE...
 *   capri-stack verify [--format text|json] [--output FILE] FILE...
 *
 * Exit codes: 0 clean, 1 a selected finding (verify: an underestimate),
 * 2 bad usage or bad input.
 */
#include "output.h"
#include "report.h"
#include "verify.h"

#include <errno.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum format { FORMAT_DEFAULT, FORMAT_TEXT, FORMAT_JSON, FORMAT_SARIF, FORMAT_DOT };

struct options {
    int verify;
    enum format format;
    const char *output;
    const char **roots;
    size_t root_count;
    const char **files;
    size_t file_count;
    unsigned fail_on;
    uint64_t stack_limit;
    int has_stack_limit;
    uint64_t dead_state_threshold;
    uint64_t live_state_threshold;
    struct model_options model;
};

static const char usage_text[] =
    "usage: capri-stack [--root FN]... [--format text|json|sarif|dot] [--output FILE]\n"
    "                   [--fail-on LIST] [--external-reserve BYTES]\n"
    "                   [--indirect c-type|c-type-strict|ir-type]\n"
    "                   [--dead-state-threshold BYTES] [--live-state-threshold BYTES] FILE...\n"
    "       capri-stack verify [--format text|json] [--output FILE] FILE...\n"
    "\n"
    "FILE: object files, static archives, executables or shared objects built with the\n"
    "capri plugin (add -fstack-size-section for the backend's frame sizes).\n"
    "\n"
    "  --root FN              report the worst-case stack from FN (repeatable); default:\n"
    "                         main, address-taken functions no known indirect call\n"
    "                         reaches, and without main every uncalled global function\n"
    "  --format F             text (default), json, sarif or dot\n"
    "  --output FILE          write the report to FILE (a regular file is replaced only\n"
    "                         by a complete report; an input is refused); FILE.svg\n"
    "                         renders the DOT graph with Graphviz; without --format the\n"
    "                         suffix picks it (verify: .json)\n"
    "  --fail-on LIST         exit 1 if any of these exist (comma-separated):\n"
    "                         recursion, unresolved-indirect, dynamic-alloca, external,\n"
    "                         dead-state, live-state, stack>BYTES (K and M suffixes:\n"
    "                         stack>64K; one limit)\n"
    "  --external-reserve N   bytes charged for a call with an unknown target, or into\n"
    "                         code without metadata that has no measured stack mark\n"
    "                         (default 16384); calls charged a mark are no findings\n"
    "  --indirect MODE        resolve indirect calls by C type (c-type, default: plus\n"
    "                         functions whose C type no call has, by IR type, for\n"
    "                         casts), by C type only (c-type-strict) or by IR type\n"
    "                         (ir-type: the most conservative)\n"
    "  --dead-state-threshold N  a yield site whose frame holds at least N bytes of\n"
    "                         objects dead there is a dead-state finding (default 1K)\n"
    "  --live-state-threshold N  a yield site with at least N bytes live across it is\n"
    "                         a live-state finding (default 4K)\n"
    "  --help, --version\n"
    "\n"
    "exit status: 0 clean, 1 a selected finding (verify: an underestimate),\n"
    "2 bad usage or unreadable input\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("capri-stack: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(run capri-stack --help for usage)\n", stderr);
    va_end(ap);
    return -1;
}

#define FAIL_ON_CLASSES \
    "recursion, unresolved-indirect, dynamic-alloca, external, dead-state, live-state, " \
    "stack>BYTES"

static int parse_fail_on(struct options *o, const char *list)
{
    char *copy = xstrdup(list);
    int rc = 0, items = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        size_t len = strlen(item);
        while (len > 0 && item[len - 1] == ' ')
            item[--len] = '\0';
        if (len == 0)
            continue;
        items++;
        if (strncmp(item, "stack>", 6) == 0) {
            uint64_t limit;
            if (parse_size(item + 6, &limit)) {
                rc = usage_error("--fail-on: bad size in '%s' (use stack>BYTES, K or M suffix)",
                                 item);
                break;
            }
            if (o->has_stack_limit) {
                rc = usage_error("--fail-on: more than one stack limit ('%s' after stack>%llu "
                                 "bytes): give one stack>BYTES", item,
                                 (unsigned long long)o->stack_limit);
                break;
            }
            o->stack_limit = limit;
            o->has_stack_limit = 1;
            o->fail_on |= 1u << FINDING_STACK_LIMIT;
            continue;
        }
        int found = 0;
        for (int f = 0; f < FINDING_COUNT; f++)
            if (f != FINDING_STACK_LIMIT && strcmp(item, finding_names[f]) == 0) {
                o->fail_on |= 1u << f;
                found = 1;
            }
        if (!found) {
            rc = usage_error("--fail-on: unknown finding '%s' (known: " FAIL_ON_CLASSES ")",
                             item);
            break;
        }
    }
    if (rc == 0 && items == 0)
        rc = usage_error("--fail-on: empty list: give comma-separated finding classes ("
                         FAIL_ON_CLASSES ")");
    free(copy);
    return rc;
}

static int parse_format(struct options *o, const char *name)
{
    static const struct {
        const char *name;
        enum format format;
    } formats[] = { { "text", FORMAT_TEXT }, { "json", FORMAT_JSON }, { "sarif", FORMAT_SARIF },
                    { "dot", FORMAT_DOT } };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(name, formats[i].name) == 0) {
            o->format = formats[i].format;
            return 0;
        }
    return usage_error("--format: unknown format '%s' (text, json, sarif or dot)", name);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* What option_value returns for "--opt" at the end of the line (already reported). */
static const char missing_value[] = "";

/*
 * The value of an option given as "--opt value" or "--opt=value"; NULL when
 * argv[*i] is not this option.
 */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        usage_error("%s needs a value", name);
        return missing_value;
    }
    return argv[++*i];
}

/* -1 (with a message saying what the option takes) when value is empty. */
static int empty_value(const char *value, const char *name, const char *what)
{
    if (value == missing_value)
        return -1;
    if (*value)
        return 0;
    return usage_error("%s needs a value: %s", name, what);
}

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->model.external_reserve = DEFAULT_EXTERNAL_RESERVE;
    o->model.indirect = INDIRECT_C_TYPE;
    o->dead_state_threshold = DEFAULT_DEAD_STATE_THRESHOLD;
    o->live_state_threshold = DEFAULT_LIVE_STATE_THRESHOLD;
    o->roots = xcalloc((size_t)argc, sizeof *o->roots);
    o->files = xcalloc((size_t)argc, sizeof *o->files);
    int i = 1;
    if (argc > 1 && strcmp(argv[1], "verify") == 0) {
        o->verify = 1;
        i = 2;
    }
    int options_done = 0;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        const char *v;
        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            o->files[o->file_count++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage_text, stdout);
            return 1;
        } else if (strcmp(arg, "--version") == 0) {
            printf("capri-stack %s (capri metadata %u.%u)\n", CAPRI_STACK_VERSION,
                   CAPRI_MD_VERSION_MAJOR, CAPRI_MD_VERSION_MINOR);
            return 1;
        } else if ((v = option_value(argc, argv, &i, "--format"))) {
            if (empty_value(v, "--format",
                            o->verify ? "text or json" : "text, json, sarif or dot") ||
                parse_format(o, v))
                return -1;
        } else if ((v = option_value(argc, argv, &i, "--output"))) {
            if (empty_value(v, "--output", "the report file"))
                return -1;
            o->output = v;
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--root"))) {
            if (empty_value(v, "--root", "a function name"))
                return -1;
            o->roots[o->root_count++] = v;
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--fail-on"))) {
            if (empty_value(v, "--fail-on", "comma-separated finding classes (" FAIL_ON_CLASSES
                            ")") ||
                parse_fail_on(o, v))
                return -1;
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--external-reserve"))) {
            if (empty_value(v, "--external-reserve", "a size in bytes (K or M suffix)"))
                return -1;
            if (parse_size(v, &o->model.external_reserve))
                return usage_error("--external-reserve: bad size '%s'", v);
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--dead-state-threshold"))) {
            if (empty_value(v, "--dead-state-threshold", "a size in bytes (K or M suffix)"))
                return -1;
            if (parse_size(v, &o->dead_state_threshold))
                return usage_error("--dead-state-threshold: bad size '%s'", v);
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--live-state-threshold"))) {
            if (empty_value(v, "--live-state-threshold", "a size in bytes (K or M suffix)"))
                return -1;
            if (parse_size(v, &o->live_state_threshold))
                return usage_error("--live-state-threshold: bad size '%s'", v);
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--indirect"))) {
            if (empty_value(v, "--indirect", "c-type, c-type-strict or ir-type"))
                return -1;
            if (strcmp(v, "c-type") == 0)
                o->model.indirect = INDIRECT_C_TYPE;
            else if (strcmp(v, "c-type-strict") == 0)
                o->model.indirect = INDIRECT_C_TYPE_STRICT;
            else if (strcmp(v, "ir-type") == 0)
                o->model.indirect = INDIRECT_IR_TYPE;
            else
                return usage_error("--indirect: '%s' is not c-type, c-type-strict or ir-type",
                                   v);
        } else {
            return usage_error(o->verify ? "verify: unknown option '%s'" : "unknown option '%s'",
                               arg);
        }
    }
    if (o->file_count == 0)
        return usage_error("no input files");
    if (o->verify) {
        /* verify writes text or JSON only: no suffix picks anything else. */
        if (o->format != FORMAT_DEFAULT && o->format != FORMAT_TEXT && o->format != FORMAT_JSON)
            return usage_error("verify writes text or json: --format %s is not supported for "
                               "verify", o->format == FORMAT_SARIF ? "sarif" : "dot");
        if (o->format == FORMAT_DEFAULT && o->output) {
            static const char *const unsupported[] = { ".sarif", ".dot", ".gv", ".svg" };
            for (size_t k = 0; k < sizeof unsupported / sizeof unsupported[0]; k++)
                if (ends_with(o->output, unsupported[k]))
                    return usage_error("verify writes text or json: the %s suffix of --output "
                                       "%s is not supported for verify (use --format text or "
                                       "--format json, or another file name)",
                                       unsupported[k], o->output);
            if (ends_with(o->output, ".json"))
                o->format = FORMAT_JSON;
        }
    } else if (o->format == FORMAT_DEFAULT && o->output) {
        if (ends_with(o->output, ".json"))
            o->format = FORMAT_JSON;
        else if (ends_with(o->output, ".sarif"))
            o->format = FORMAT_SARIF;
        else if (ends_with(o->output, ".dot") || ends_with(o->output, ".gv") ||
                 ends_with(o->output, ".svg"))
            o->format = FORMAT_DOT;
    }
    if (o->format == FORMAT_DEFAULT)
        o->format = FORMAT_TEXT;
    if (o->output && ends_with(o->output, ".svg") && o->format != FORMAT_DOT)
        return usage_error("--output %s: an SVG file needs --format dot", o->output);
    return 0;
}

/* Run Graphviz: dot -Tsvg -o svg_path dot_path. */
static int run_dot(const char *dot_path, const char *svg_path, const char *target,
                   struct error *err)
{
    char *argv[] = { "dot", "-Tsvg", "-o", (char *)svg_path, (char *)dot_path, NULL };
    pid_t pid;
    int rc = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
    if (rc != 0)
        return errorf(err, "cannot run Graphviz 'dot' to render %s (%s): install graphviz, or "
                      "write the graph with --output FILE.dot", target, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return errorf(err, "waiting for dot: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return errorf(err, "dot failed to render %s", target);
    return 0;
}

/* A temporary file in $TMPDIR (or /tmp); -1 with err set on failure. */
static int temp_file(char **path, struct error *err)
{
    const char *tmpdir = getenv("TMPDIR");
    *path = xasprintf("%s/capri-stack-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(*path);
    if (fd < 0) {
        errorf(err, "cannot create a temporary file in %s: %s",
               tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(errno));
        free(*path);
        *path = NULL;
    }
    return fd;
}

/*
 * Render the DOT graph to SVG with Graphviz, in temporary files, and return
 * the SVG text. dot does not report failed writes, so a file that does not
 * end its <svg> element is an error too.
 */
static int render_svg(const struct report *r, const char *target, char **svg, size_t *svg_len,
                      struct error *err)
{
    char *dot_path = NULL, *svg_path = NULL;
    int svg_fd = -1, rc = -1;
    int dot_fd = temp_file(&dot_path, err);
    FILE *dot = dot_fd >= 0 ? fdopen(dot_fd, "w") : NULL;
    *svg = NULL;
    *svg_len = 0;
    if (!dot) {
        if (dot_fd >= 0) {
            errorf(err, "%s: %s", dot_path, strerror(errno));
            close(dot_fd);
        }
        goto out;
    }
    report_dot(dot, r);
    int failed = fflush(dot) != 0 || ferror(dot);
    if (fclose(dot) != 0 || failed) {
        errorf(err, "writing the DOT graph to %s: %s", dot_path, strerror(errno));
        goto out;
    }
    svg_fd = temp_file(&svg_path, err);
    if (svg_fd < 0 || run_dot(dot_path, svg_path, target, err))
        goto out;
    size_t cap = 0;
    for (;;) {
        GROW(*svg, cap, *svg_len + 65536);
        ssize_t n = read(svg_fd, *svg + *svg_len, cap - *svg_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            errorf(err, "reading the SVG dot wrote: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        *svg_len += (size_t)n;
    }
    /* The closing tag, then at most some white space. */
    size_t end = *svg_len;
    while (end > 0 && ((*svg)[end - 1] == '\n' || (*svg)[end - 1] == ' '))
        end--;
    if (end < 6 || memcmp(*svg + end - 6, "</svg>", 6) != 0) {
        errorf(err, "dot wrote an incomplete SVG for %s", target);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        free(*svg);
        *svg = NULL;
        *svg_len = 0;
    }
    if (svg_fd >= 0)
        close(svg_fd);
    if (svg_path)
        unlink(svg_path);
    if (dot_path)
        unlink(dot_path);
    free(svg_path);
    free(dot_path);
    return rc;
}

static void write_report(FILE *out, enum format format, const struct report *r)
{
    switch (format) {
    case FORMAT_JSON: report_json(out, r); break;
    case FORMAT_SARIF: report_sarif(out, r); break;
    case FORMAT_DOT: report_dot(out, r); break;
    default: report_text(out, r); break;
    }
}

/* Write the report (or verify's comparison) to out; returns -1 with err set on failure. */
static int produce(FILE *out, const struct options *o, const struct report *r,
                   const struct model *m, int *verify_rc, struct error *err)
{
    if (o->verify) {
        *verify_rc = verify_run(out, m, o->format == FORMAT_JSON, err);
        return *verify_rc < 0 ? -1 : 0;
    }
    write_report(out, o->format, r);
    return 0;
}

/*
 * Write to --output (or stdout). Nothing that existed is ever removed or
 * replaced by a failed run: see output.h.
 */
static int emit(const struct options *o, const struct report *r, const struct model *m,
                int *verify_rc, struct error *err)
{
    if (!o->output) {
        int rc = produce(stdout, o, r, m, verify_rc, err);
        if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0)
            rc = errorf(err, "writing the report: %s", strerror(errno));
        return rc;
    }
    /* An SVG is rendered first: nothing is touched if Graphviz fails. */
    char *svg = NULL;
    size_t svg_len = 0;
    int is_svg = ends_with(o->output, ".svg");
    if (is_svg && render_svg(r, o->output, &svg, &svg_len, err))
        return -1;
    struct output dest;
    FILE *out = NULL;
    if (output_begin(&dest, o->output, err) || !(out = output_stream(&dest, err))) {
        if (out == NULL && dest.path)
            output_end(&dest, NULL, 0, err);
        free(svg);
        return -1;
    }
    int rc = 0;
    if (is_svg)
        fwrite(svg, 1, svg_len, out); /* errors surface in output_end */
    else
        rc = produce(out, o, r, m, verify_rc, err);
    free(svg);
    return output_end(&dest, out, rc == 0, err);
}

static int run(const struct options *o)
{
    struct inputs in;
    struct model m;
    struct analysis a;
    struct error err;
    int code = EXIT_BAD_INPUT;
    memset(&in, 0, sizeof in);
    memset(&m, 0, sizeof m);
    memset(&a, 0, sizeof a);
    if (o->output && output_check_not_input(o->output, o->files, o->file_count, &err))
        goto fail;
    for (size_t i = 0; i < o->file_count; i++)
        if (inputs_add_file(&in, o->files[i], &err))
            goto fail;
    if (inputs_finish(&in, &err))
        goto fail;
    model_build(&m, &in, &o->model);
    if (o->verify) {
        int verify_rc = EXIT_BAD_INPUT;
        if (emit(o, NULL, &m, &verify_rc, &err))
            goto fail;
        code = verify_rc;
        goto done;
    }
    struct analysis_options aopts = { o->roots, o->root_count, o->stack_limit,
                                      o->has_stack_limit, o->dead_state_threshold,
                                      o->live_state_threshold };
    if (analysis_run(&a, &m, &aopts, &err))
        goto fail;
    struct report r = { &in, &m, &a, o->fail_on, EXIT_CLEAN };
    for (int f = 0; f < FINDING_COUNT; f++)
        if (report_fails(&r, (enum finding)f))
            r.exit_code = EXIT_FINDINGS;
    if (emit(o, &r, &m, NULL, &err))
        goto fail;
    code = r.exit_code;
    goto done;
fail:
    fprintf(stderr, "capri-stack: error: %s\n", err.text);
    code = EXIT_BAD_INPUT;
done:
    analysis_free(&a);
    model_free(&m);
    inputs_free(&in);
    return code;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_args(argc, argv, &o);
    int code = rc < 0 ? EXIT_BAD_INPUT : rc > 0 ? EXIT_CLEAN : run(&o);
    free(o.roots);
    free(o.files);
    return code;
}
