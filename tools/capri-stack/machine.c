#include "machine.h"

#include <stddef.h>

#define EM_X86_64 62

/* x86-64 psABI relocation numbers. */
#define R_X86_64_NONE 0
#define R_X86_64_64 1
#define R_X86_64_GLOB_DAT 6
#define R_X86_64_RELATIVE 8

static enum reloc_action x86_64_object_reloc(uint32_t type)
{
    switch (type) {
    case R_X86_64_NONE: return RELOC_IGNORE;
    case R_X86_64_64: return RELOC_SYMBOL;
    default: return RELOC_UNSUPPORTED;
    }
}

static enum reloc_action x86_64_dynamic_reloc(uint32_t type)
{
    switch (type) {
    case R_X86_64_NONE: return RELOC_IGNORE;
    case R_X86_64_64:
    case R_X86_64_GLOB_DAT: return RELOC_SYMBOL;
    case R_X86_64_RELATIVE: return RELOC_RELATIVE;
    default: return RELOC_UNSUPPORTED;
    }
}

static const struct machine machines[] = {
    { EM_X86_64, "x86-64", x86_64_object_reloc, x86_64_dynamic_reloc },
};

const struct machine *machine_find(uint16_t e_machine)
{
    for (size_t i = 0; i < sizeof machines / sizeof machines[0]; i++)
        if (machines[i].e_machine == e_machine)
            return &machines[i];
    return NULL;
}
