/*
 * capri-stack: report worst-case stack usage of programs built with the
 * capri plugin, and fail CI on the findings the user selects.
 *
 *   capri-stack [--root FN]... [--format text|json|sarif|dot] [--output FILE]
 *               [--fail-on LIST] [--external-reserve BYTES]
 *               [--indirect c-type|ir-type] FILE...
 *   capri-stack verify [--format text|json] [--output FILE] FILE...
 *
 * Exit codes: 0 clean, 1 a selected finding (verify: an underestimate),
 * 2 bad usage or bad input.
 */
#include "report.h"
#include "verify.h"

#include <errno.h>
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
    struct model_options model;
};

static const char usage_text[] =
    "usage: capri-stack [--root FN]... [--format text|json|sarif|dot] [--output FILE]\n"
    "                   [--fail-on LIST] [--external-reserve BYTES]\n"
    "                   [--indirect c-type|ir-type] FILE...\n"
    "       capri-stack verify [--format text|json] [--output FILE] FILE...\n"
    "\n"
    "FILE: object files, static archives, executables or shared objects built with the\n"
    "capri plugin (add -fstack-size-section for the backend's frame sizes).\n"
    "\n"
    "  --root FN              report the worst-case stack from FN (repeatable); default:\n"
    "                         main, address-taken functions no known indirect call\n"
    "                         reaches, and without main every uncalled global function\n"
    "  --format F             text (default), json, sarif or dot\n"
    "  --output FILE          write the report to FILE; FILE.svg renders the DOT graph\n"
    "                         with Graphviz; without --format the suffix picks it\n"
    "  --fail-on LIST         exit 1 if any of these exist (comma-separated):\n"
    "                         recursion, unresolved-indirect, dynamic-alloca, external,\n"
    "                         stack>BYTES (K and M suffixes: stack>64K)\n"
    "  --external-reserve N   bytes charged for a call into code without metadata or\n"
    "                         with an unknown target (default 16384)\n"
    "  --indirect MODE        resolve indirect calls by C type (c-type, default) or by\n"
    "                         IR type (ir-type: conservative, covers casts)\n"
    "  --help, --version\n"
    "\n"
    "exit status: 0 clean, 1 a selected finding (verify: an underestimate),\n"
    "2 bad usage or unreadable input\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("capri-stack: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(run capri-stack --help for usage)\n", stderr);
    return -1;
}

static int parse_fail_on(struct options *o, const char *list)
{
    char *copy = xstrdup(list);
    int rc = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        if (strncmp(item, "stack>", 6) == 0) {
            if (parse_size(item + 6, &o->stack_limit)) {
                rc = usage_error("--fail-on: bad size in '%s' (use stack>BYTES, K or M suffix)",
                                 item);
                break;
            }
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
            rc = usage_error("--fail-on: unknown finding '%s' (known: recursion, "
                             "unresolved-indirect, dynamic-alloca, external, stack>BYTES)",
                             item);
            break;
        }
    }
    if (rc == 0 && o->fail_on == 0)
        rc = usage_error("--fail-on: empty list%s", "");
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

/* The value of an option given as "--opt value" or "--opt=value". */
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
        return "";
    }
    return argv[++*i];
}

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->model.external_reserve = DEFAULT_EXTERNAL_RESERVE;
    o->model.indirect = INDIRECT_C_TYPE;
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
            if (!*v || parse_format(o, v))
                return -1;
        } else if ((v = option_value(argc, argv, &i, "--output"))) {
            if (!*v)
                return usage_error("--output needs a file name%s", "");
            o->output = v;
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--root"))) {
            if (!*v)
                return usage_error("--root needs a function name%s", "");
            o->roots[o->root_count++] = v;
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--fail-on"))) {
            if (!*v || parse_fail_on(o, v))
                return -1;
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--external-reserve"))) {
            if (!*v || parse_size(v, &o->model.external_reserve))
                return usage_error("--external-reserve: bad size '%s'", v);
        } else if (!o->verify && (v = option_value(argc, argv, &i, "--indirect"))) {
            if (strcmp(v, "c-type") == 0)
                o->model.indirect = INDIRECT_C_TYPE;
            else if (strcmp(v, "ir-type") == 0)
                o->model.indirect = INDIRECT_IR_TYPE;
            else
                return usage_error("--indirect: '%s' is not c-type or ir-type", v);
        } else {
            return usage_error(o->verify ? "verify: unknown option '%s'" : "unknown option '%s'",
                               arg);
        }
    }
    if (o->file_count == 0)
        return usage_error("no input files%s", "");
    if (o->format == FORMAT_DEFAULT && o->output) {
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
    if (o->verify && o->format != FORMAT_TEXT && o->format != FORMAT_JSON)
        return usage_error("verify: --format must be text or json%s", "");
    if (o->output && ends_with(o->output, ".svg") && o->format != FORMAT_DOT)
        return usage_error("--output %s: an SVG file needs --format dot", o->output);
    return 0;
}

/* Render DOT text to SVG with Graphviz. */
static int render_svg(const char *dot_path, const char *svg_path, struct error *err)
{
    char *argv[] = { "dot", "-Tsvg", "-o", (char *)svg_path, (char *)dot_path, NULL };
    pid_t pid;
    int rc = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
    if (rc != 0)
        return errorf(err, "cannot run Graphviz 'dot' to render %s (%s): install graphviz, or "
                      "write the graph with --output FILE.dot", svg_path, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return errorf(err, "waiting for dot: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return errorf(err, "dot failed to render %s", svg_path);
    return 0;
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

/* Write to --output (or stdout); an .svg output goes through a DOT file. */
static int emit(const struct options *o, const struct report *r, const struct model *m,
                int *verify_rc, struct error *err)
{
    FILE *out = stdout;
    char *dot_path = NULL;
    int svg = o->output && ends_with(o->output, ".svg");
    if (svg) {
        const char *tmpdir = getenv("TMPDIR");
        dot_path = xasprintf("%s/capri-stack-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        int fd = mkstemp(dot_path);
        if (fd < 0 || !(out = fdopen(fd, "w"))) {
            int e = errno;
            if (fd >= 0) {
                close(fd);
                unlink(dot_path);
            }
            free(dot_path);
            return errorf(err, "cannot create a temporary file: %s", strerror(e));
        }
    } else if (o->output) {
        out = fopen(o->output, "w");
        if (!out)
            return errorf(err, "%s: %s", o->output, strerror(errno));
    }
    int rc = 0;
    if (o->verify) {
        *verify_rc = verify_run(out, m, o->format == FORMAT_JSON, err);
        if (*verify_rc < 0)
            rc = -1;
    } else {
        write_report(out, o->format, r);
    }
    if (out != stdout) {
        if (fclose(out) != 0 && rc == 0)
            rc = errorf(err, "%s: write failed: %s", svg ? dot_path : o->output, strerror(errno));
        if (rc != 0 && !svg)
            unlink(o->output); /* no half-written report for a script to pick up */
    } else if (fflush(out) != 0 && rc == 0) {
        rc = errorf(err, "writing the report: %s", strerror(errno));
    }
    if (svg) {
        if (rc == 0)
            rc = render_svg(dot_path, o->output, err);
        unlink(dot_path);
        free(dot_path);
    }
    return rc;
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
    for (size_t i = 0; i < o->file_count; i++)
        if (inputs_add_file(&in, o->files[i], &err))
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
                                      o->has_stack_limit };
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
