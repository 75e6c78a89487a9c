/*
 * Thread-local keys: a global table of destructors with generations, and
 * per-thread values (a table allocated at a thread's first
 * capri_setspecific, struct thread_keys). A value stored under
 * a deleted key is invisible under the key's next incarnation because the
 * generations differ.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "capri.h"
#include "thread.h"

#define KEYS_MAX 1024
#define DESTRUCTOR_ROUNDS 4

static struct {
    unsigned lock;
    struct {
        uintptr_t generation; /* odd: in use */
        void (*destructor)(void *);
    } key[KEYS_MAX];
} keys;

int capri_key_create(capri_key_t *out, void (*destructor)(void *))
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!out)
        return EINVAL;
    spin_lock(&keys.lock);
    for (unsigned i = 0; i < KEYS_MAX; i++) {
        if (!(keys.key[i].generation & 1)) {
            keys.key[i].destructor = destructor;
            store_release(&keys.key[i].generation, keys.key[i].generation + 1);
            spin_unlock(&keys.lock);
            *out = i;
            return 0;
        }
    }
    spin_unlock(&keys.lock);
    return EAGAIN;
}

int capri_key_delete(capri_key_t key)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (key >= KEYS_MAX)
        return EINVAL;
    spin_lock(&keys.lock);
    int err = EINVAL;
    if (keys.key[key].generation & 1) {
        store_release(&keys.key[key].generation, keys.key[key].generation + 1);
        keys.key[key].destructor = NULL;
        err = 0;
    }
    spin_unlock(&keys.lock);
    return err;
}

void *capri_getspecific(capri_key_t key)
{
    if (key >= KEYS_MAX || runtime_ensure() != 0)
        return NULL;
    const struct thread_keys *k = thread_current()->keys;
    if (!k || key >= k->cap)
        return NULL;
    const struct key_value *kv = &k->value[key];
    return kv->generation == load_acquire(&keys.key[key].generation) ? kv->value : NULL;
}

static struct thread_keys *main_keys_root;

int capri_setspecific(capri_key_t key, const void *value)
{
    if (key >= KEYS_MAX)
        return EINVAL;
    int err = runtime_ensure();
    if (err)
        return err;
    uintptr_t gen = load_acquire(&keys.key[key].generation);
    if (!(gen & 1))
        return EINVAL;
    struct capri_thread *t = thread_current();
    struct thread_keys *k = t->keys;
    if (!k || key >= k->cap) {
        uintptr_t old_cap = k ? k->cap : 0, cap = old_cap ? old_cap : THREAD_KEYS_FIRST;
        while (cap <= key)
            cap *= 2;
        struct thread_keys *grown = calloc(1, sizeof *grown + cap * sizeof grown->value[0]);
        if (!grown)
            return ENOMEM;
        grown->cap = cap;
        if (k)
            memcpy(grown->value, k->value, old_cap * sizeof k->value[0]);
        free(k);
        t->keys = k = grown;
        /* main's struct is in the chunk arena, which LeakSanitizer does
         * not scan, and main never releases its keys: a root it sees. */
        if (t->flags & THREAD_MAIN)
            main_keys_root = grown;
    }
    k->value[key].value = (void *)value;
    k->value[key].generation = gen;
    return 0;
}

void keys_run_destructors(struct capri_thread *t)
{
    /* As pthreads: destructors may set values again; retry a few rounds. */
    for (int round = 0; round < DESTRUCTOR_ROUNDS; round++) {
        int ran = 0;
        /* A destructor may grow the table (capri_setspecific): reload it. */
        for (unsigned i = 0; t->keys && i < t->keys->cap; i++) {
            struct key_value *kv = &t->keys->value[i];
            if (!kv->value)
                continue;
            uintptr_t gen = load_acquire(&keys.key[i].generation);
            void (*destructor)(void *) = keys.key[i].destructor;
            void *value = kv->value;
            kv->value = NULL;
            if (kv->generation == gen && (gen & 1) && destructor) {
                destructor(value);
                ran = 1;
            }
        }
        if (!ran)
            break;
    }
}

void keys_release(struct capri_thread *t)
{
    free(t->keys);
    t->keys = NULL;
}
