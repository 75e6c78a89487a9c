/*
 * .stack_sizes: what the backend says each function's frame is
 * (-fstack-size-section). Each entry is an 8-byte function address followed
 * by a ULEB128 size; the size excludes the return address and the red zone
 * (capri_md_backend_frame corrects for both). The decoder is the metadata
 * library's, which libcapri uses too.
 */
#include "input.h"

#include <stdlib.h>

int stack_sizes_parse(struct object *obj, const char *name, const uint8_t *data, size_t size,
                      struct error *err)
{
    size_t pos = 0;
    for (;;) {
        uint64_t address, frame;
        int rc = capri_md_stack_size_next(data, size, &pos, &address, &frame);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            if (size - pos < 8)
                return errorf(err, "%s: .stack_sizes is truncated at offset %zu", name, pos);
            return errorf(err, "%s: .stack_sizes has a malformed size at offset %zu", name,
                          pos + 8);
        }
        GROW(obj->sizes, obj->size_cap, obj->size_count + 1);
        obj->sizes[obj->size_count++] = (struct stack_size){ address, frame };
    }
}

static int by_address(const void *a, const void *b)
{
    const struct stack_size *x = a, *y = b;
    if (x->address != y->address)
        return x->address < y->address ? -1 : 1;
    return x->size < y->size ? -1 : x->size > y->size;
}

/*
 * Sort and keep one entry per address. Duplicates come from identical code
 * folding and from several copies of one inline function; the largest frame
 * is the safe one to keep.
 */
void stack_sizes_finish(struct object *obj)
{
    if (obj->size_count == 0)
        return;
    sort_array(obj->sizes, obj->size_count, sizeof *obj->sizes, by_address);
    size_t out = 0;
    for (size_t i = 0; i < obj->size_count; i++) {
        if (out > 0 && obj->sizes[out - 1].address == obj->sizes[i].address)
            obj->sizes[out - 1].size = obj->sizes[i].size; /* sorted: this one is larger */
        else
            obj->sizes[out++] = obj->sizes[i];
    }
    obj->size_count = out;
}

int stack_size_find(const struct object *obj, uint64_t address, uint64_t *size)
{
    size_t lo = 0, hi = obj->size_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (obj->sizes[mid].address < address)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < obj->size_count && obj->sizes[lo].address == address) {
        *size = obj->sizes[lo].size;
        return 0;
    }
    return -1;
}
