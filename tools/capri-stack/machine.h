/*
 * Per-machine relocation handling. Only the relocation types that can
 * appear in capri_meta and .stack_sizes matter: absolute 64-bit addresses,
 * their dynamic forms (relative, and against a symbol). Adding a machine
 * (aarch64: R_AARCH64_ABS64, R_AARCH64_RELATIVE, R_AARCH64_GLOB_DAT) means
 * adding one classify function and one table row in machine.c.
 */
#ifndef CAPRI_STACK_MACHINE_H
#define CAPRI_STACK_MACHINE_H

#include <stdint.h>

enum reloc_action {
    RELOC_IGNORE,      /* no effect on an address slot (R_*_NONE) */
    RELOC_SYMBOL,      /* slot = S + A */
    RELOC_RELATIVE,    /* slot = load bias + A; at link time just A */
    RELOC_UNSUPPORTED, /* a type capri-stack cannot evaluate in these sections */
};

struct machine {
    uint16_t e_machine;
    const char *name;
    /* What a relocation type in a relocatable object does to a 64-bit slot. */
    enum reloc_action (*object_reloc)(uint32_t type);
    /* The same for a dynamic relocation in an executable or shared object. */
    enum reloc_action (*dynamic_reloc)(uint32_t type);
    /* The frame corrections for .stack_sizes figures (return address, red
     * zone) are capri_md_backend_frame's, in the metadata library. */
};

/* The machine description for e_machine, or NULL when unsupported. */
const struct machine *machine_find(uint16_t e_machine);

#endif
