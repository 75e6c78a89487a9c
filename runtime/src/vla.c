/*
 * Variable-size allocas that do not fit in the current stack chunk
 * (docs/stack-growth-design.md, revision 6). The plugin checks before each
 * one whether its size and the rest of the function's region fit above the
 * limit; when not, the function cannot move to a new chunk (the alloca is
 * in the middle of it), so the memory comes from here instead: a block on
 * the heap, linked into a list whose head lives in the function's own
 * frame. The function gives its blocks back at llvm.stackrestore (those
 * taken since the matching stacksave) and when it returns (all of them).
 *
 * Each block records the stack pointer at its alloca. After taking a block
 * the slow path also moves the stack pointer down by 16 bytes, so a
 * stacksave made after it returns a lower value: at stackrestore(ss) the
 * blocks taken after the save are exactly those with sp <= ss.
 *
 * Called on what is left of a nearly full chunk: the plugin charges these
 * calls' stack use (passes/RuntimeStackMarks.def) to the function's region.
 * A jump or an unwind out of the function without running its exits leaks
 * its blocks (docs/stack-growth-design.md, "As built").
 */
#include "log.h"

#include <stdint.h>
#include <stdlib.h>

struct vla_block {
    struct vla_block *prev;
    uintptr_t sp; /* the stack pointer at the alloca */
    /* Padding up to the alignment asked for, then the memory. */
};

/* The exported ABI (default visibility), called by instrumented code. */
void *__capri_vla_take(uint64_t size, uint64_t align, struct vla_block **head, uintptr_t sp);
void __capri_vla_release(struct vla_block **head, uintptr_t sp);

void *__capri_vla_take(uint64_t size, uint64_t align, struct vla_block **head, uintptr_t sp)
{
    if (align < 16)
        align = 16;
    if (align & (align - 1) || align > 4096)
        capri_fatal("__capri_vla_take: bad alignment");
    /* The header is padded to the alignment, so the memory after it is
     * aligned when the block is. */
    uint64_t header = (sizeof(struct vla_block) + align - 1) & ~(align - 1);
    if (size > (uint64_t)1 << 40)
        capri_fatal("a variable-size array of absurd size (over 1 TiB) was asked for");
    void *p = NULL;
    if (posix_memalign(&p, align, header + (size ? size : 1)) != 0 || !p)
        capri_fatal("no memory for a variable-size array that did not fit on the stack");
    struct vla_block *b = p;
    b->prev = *head;
    b->sp = sp;
    *head = b;
    return (char *)p + header;
}

void __capri_vla_release(struct vla_block **head, uintptr_t sp)
{
    struct vla_block *b = *head;
    while (b && b->sp <= sp) {
        struct vla_block *prev = b->prev;
        free(b);
        b = prev;
    }
    *head = b;
}
