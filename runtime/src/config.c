/*
 * capri_config() and the CAPRI_* environment variables. Precedence: a
 * capri_config call, then the environment, then the default. Settings are
 * sealed when the runtime starts. A malformed or out-of-range variable is
 * reported on stderr and ignored (the default stands), never silently.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "capri.h"
#include "log.h"

#define DEFAULT_STACK_SIZE (64 * 1024)
#define MIN_STACK_SIZE 4096
#define MAX_STACK_SIZE (2 * 1024 * 1024)
#define DEFAULT_MAX_THREADS (16u * 1024 * 1024)
#define CONFIG_KEYS 7 /* the last enum capri_config_key */
#define DEFAULT_SPARE_SCHEDULERS 2
#define MAX_SPARE_SCHEDULERS 64
#define DEFAULT_TIME_SLICE_US 10000
#define MAX_TIME_SLICE_US 10000000

static struct {
    unsigned lock;
    int sealed;
    long value[CONFIG_KEYS + 1];
    int set[CONFIG_KEYS + 1];
} config;

static int check_value(enum capri_config_key key, long value)
{
    switch (key) {
    case CAPRI_CONFIG_SCHEDULERS:
        return value >= 1 && value <= 1024 ? 0 : EINVAL;
    case CAPRI_CONFIG_STACK_SIZE:
        return value >= MIN_STACK_SIZE && value <= MAX_STACK_SIZE ? 0 : EINVAL;
    case CAPRI_CONFIG_GUARD:
    case CAPRI_CONFIG_DENSE:
        return value == 0 || value == 1 ? 0 : EINVAL;
    case CAPRI_CONFIG_MAX_THREADS:
        return value >= 1 && value <= (long)UINT32_MAX / 2 ? 0 : EINVAL;
    case CAPRI_CONFIG_SPARE_SCHEDULERS:
        return value >= 0 && value <= MAX_SPARE_SCHEDULERS ? 0 : EINVAL;
    case CAPRI_CONFIG_TIME_SLICE_US:
        return value >= 0 && value <= MAX_TIME_SLICE_US ? 0 : EINVAL;
    }
    return EINVAL;
}

int capri_config(enum capri_config_key key, long value)
{
    if ((int)key < 1 || (int)key > CONFIG_KEYS)
        return EINVAL;
    int err = check_value(key, value);
    if (err)
        return err;
    spin_lock(&config.lock);
    if (config.sealed) {
        spin_unlock(&config.lock);
        return EBUSY;
    }
    config.value[key] = value;
    config.set[key] = 1;
    spin_unlock(&config.lock);
    return 0;
}

/* A size with an optional k/K/m/M suffix, or a plain count. */
static int parse_env(const char *name, enum capri_config_key key, long *out)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return 0; /* set but empty: as if unset */
    if (*s < '0' || *s > '9')
        goto malformed; /* strtol would skip spaces and take signs */
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end != s && (*end == 'k' || *end == 'K')) {
        v *= 1024;
        end++;
    } else if (end != s && (*end == 'm' || *end == 'M')) {
        v *= 1024 * 1024;
        end++;
    }
    if (end == s || *end || errno || check_value(key, v)) {
    malformed:;
        char msg[160];
        char *p = msg, *e = msg + sizeof msg - 1;
        p = log_append(p, e, "ignoring malformed or out-of-range ");
        p = log_append(p, e, name);
        p = log_append(p, e, "=");
        p = log_append(p, e, s);
        *p = 0;
        capri_warn(msg);
        return EINVAL;
    }
    *out = v;
    return 1;
}

static uint32_t cpus_allowed(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return (uint32_t)n;
    }
    return 1;
}

int config_resolve(struct runtime_config *out)
{
    static const char *const env_names[CONFIG_KEYS + 1] = {
        NULL, "CAPRI_SCHEDULERS", "CAPRI_STACK_SIZE", "CAPRI_GUARD", "CAPRI_MAX_THREADS", "CAPRI_DENSE",
        "CAPRI_SPARE_SCHEDULERS", "CAPRI_TIME_SLICE_US"};
    long value[CONFIG_KEYS + 1] = {0, 0, DEFAULT_STACK_SIZE, 1, DEFAULT_MAX_THREADS, 0,
                                   DEFAULT_SPARE_SCHEDULERS, DEFAULT_TIME_SLICE_US};
    int err = 0;
    spin_lock(&config.lock);
    config.sealed = 1;
    for (int k = 1; k <= CONFIG_KEYS; k++) {
        if (config.set[k]) {
            value[k] = config.value[k];
            continue;
        }
        long v;
        int r = parse_env(env_names[k], (enum capri_config_key)k, &v);
        if (r == 1)
            value[k] = v;
        else if (r)
            err = r; /* reported; the default stands */
    }
    spin_unlock(&config.lock);
    out->schedulers = value[1] ? (uint32_t)value[1] : cpus_allowed();
    out->stack_size = (size_t)value[2];
    out->guard = (int)value[3];
    out->max_threads = (uint32_t)value[4];
    out->dense = (int)value[5];
    out->spare_schedulers = (uint32_t)value[6];
    out->time_slice_us = (uint32_t)value[7];
    (void)err;
    return 0;
}
