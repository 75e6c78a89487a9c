/*
 * The whole-program model: every record of every input merged into one call
 * graph. Nodes are functions with metadata, plus three kinds of stand-ins:
 *
 *   external     a named callee nobody defines (libc, libraries without
 *                metadata): a leaf charged the measured stack mark the
 *                calls to it carry (the plugin's tables of libc and
 *                libcapri functions), else the external reserve;
 *   unresolved   one shared leaf for indirect calls with no candidate and for
 *                calls from inline asm, also charged the reserve;
 *   type set     the candidates of indirect calls with one type identity. A
 *                call edge goes to the set and the set has an edge to every
 *                candidate, so N calls of a type with M candidates cost N+M
 *                edges, not N*M. A set has no frame of its own. An orphan
 *                set holds the orphans of one IR type (see model.c).
 */
#ifndef CAPRI_STACK_MODEL_H
#define CAPRI_STACK_MODEL_H

#include "input.h"
#include "map.h"

#define NONE UINT32_MAX

/*
 * The reserve charged for a call into code without capri metadata that has
 * no measured stack mark, and for a call whose target is unknown: a
 * deliberately generous placeholder for one library call, the same as the
 * plugin's -capri-external-reserve default. A callee the plugin knows a
 * mark for (passes/LibcStackMarks.def, passes/RuntimeStackMarks.def) is
 * charged that mark instead: the plugin writes it into the call entry
 * (CAPRI_MD_CALLF2_MARK). Override with --external-reserve.
 */
#define DEFAULT_EXTERNAL_RESERVE 16384u

enum frame_source {
    SOURCE_BACKEND,  /* .stack_sizes, corrected */
    SOURCE_ESTIMATE, /* the plugin's frame_estimate */
    SOURCE_RESERVE,  /* assumed for code without metadata */
    SOURCE_MARK,     /* code without metadata: its measured stack mark */
    SOURCE_NONE,     /* a type set: no frame */
};

enum indirect_mode {
    INDIRECT_C_TYPE,        /* KCFI C-level type identity (IR type where only that is
                             * known), plus orphans by IR type (casts) */
    INDIRECT_C_TYPE_STRICT, /* C-level type identity only: no orphan rule */
    INDIRECT_IR_TYPE,       /* IR function type: also covers calls through cast pointers */
};

/* "c-type", "c-type-strict", "ir-type": the --indirect value. */
const char *indirect_mode_name(enum indirect_mode mode);

struct model_options {
    uint64_t external_reserve;
    enum indirect_mode indirect;
};

struct module {
    const struct object *object;
    const struct capri_md_module *record;
    uint32_t first_function; /* its functions are [first_function, +function_count) */
};

struct function {
    const char *name;
    const char *file;
    uint32_t line;
    uint32_t module;
    struct capri_md_function_entry entry;
    uint64_t address; /* relocated slot; 0 when unknown */
    uint64_t backend; /* raw .stack_sizes figure, when has_backend */
    int has_backend;
    uint64_t frame; /* what the analysis charges */
    enum frame_source source;
    int address_taken;   /* ADDRESS_TAKEN flag, or named by another record's REFERENCES */
    int indirect_target; /* a candidate of some resolved indirect call (not as an orphan) */
    int orphan;          /* address-taken, but no C-typed indirect call has its C type */
    int called;          /* has an incoming edge */
    int overridden;      /* its own name is a weak (or duplicate) definition that lost */
    int alias_winner;    /* some alias of it is the definition its name links to */
    int alias_global;    /* ... and one of those aliases is a global name */
    uint32_t first_alias; /* its aliases: a list through alias.next; NONE when none */
    uint32_t first_site;  /* its calls are sites [first_site, +entry.call_count) */
    uint32_t first_checkpoint; /* its checkpoints are [first_checkpoint, +checkpoint_count) */
    uint32_t checkpoint_count;
};

/* A CHECKPOINTS entry (1.2): a call site the plugin instrumented. */
struct checkpoint {
    uint32_t function; /* index into functions: the caller */
    uint32_t site;     /* index into sites: the call */
    struct capri_md_checkpoint_entry entry;
};

/* "cycle", "maxpath", "cross-file", "external", "indirect", "dynamic-alloca",
 * "forced", or "?" for a reason this reader does not know. */
const char *checkpoint_reason_name(uint8_t reason);

/* A YIELD_SITES entry (1.3): a call that may park the calling thread. */
struct yield_site {
    uint32_t function; /* index into functions: the caller */
    uint32_t site;     /* index into sites: the call */
    struct capri_md_yield_site_entry entry;
    uint8_t kind;      /* CAPRI_MD_YIELD_*, resolved across records: an unknown
                        * call to a function (with metadata) that parks is
                        * transitive */
    int dropped;       /* unknown in its record, but the callee has metadata and
                        * never parks: no site after all */
    const char *file;
    const char *primitive;
    const char *dead_objects; /* "name=bytes;..." */
    uint64_t frame;    /* the caller's corrected backend frame when known, else the
                        * record's coloured estimate */
    enum frame_source frame_source;
};

/* "direct", "transitive", "unknown", or "?". */
const char *yield_kind_name(uint8_t kind);

/* An ALIASES entry: another symbol name of a function. */
struct alias {
    const char *name;
    uint32_t function; /* index into functions */
    uint8_t linkage;   /* CAPRI_MD_LINK_* of the alias itself */
    int overridden;    /* the name lost to another definition */
    uint32_t next;     /* the function's next alias, or NONE */
};

/* Is the function's code reachable by some name (its own or an alias's)? */
int function_live(const struct function *f);

enum site_resolution {
    SITE_DIRECT,     /* LOCAL or NAMED call to a function with metadata */
    SITE_EXTERNAL,   /* NAMED call to code without metadata */
    SITE_INDIRECT,   /* indirect call with at least one candidate */
    SITE_UNRESOLVED, /* indirect call with no candidate */
    SITE_ASM,        /* call from inline asm */
};

struct call_site {
    uint32_t caller; /* function index */
    struct capri_md_call_entry entry;
    const char *file;
    uint32_t line;
    const char *callee_name; /* NAMED: the symbol */
    enum site_resolution resolution;
    uint32_t candidates; /* SITE_INDIRECT: number of possible targets */
};

enum node_kind { NODE_FUNCTION, NODE_EXTERNAL, NODE_UNRESOLVED, NODE_TYPE_SET };

struct node {
    enum node_kind kind;
    const char *name; /* function or external symbol; "<unresolved>"; set: NULL */
    uint32_t function; /* NODE_FUNCTION: index into functions */
    uint32_t type_id;  /* NODE_TYPE_SET: the id matched */
    int ir_type;       /* NODE_TYPE_SET: matched by IR type */
    int orphan;        /* NODE_TYPE_SET: the orphans of that IR type */
    uint64_t frame;
    enum frame_source source;
};

struct edge {
    uint32_t to;
    uint32_t site; /* call site index, or NONE for type set -> candidate */
};

struct model {
    struct model_options options;
    struct module *modules;
    size_t module_count, module_cap;
    struct function *functions;
    size_t function_count, function_cap;
    struct alias *aliases; /* every record's ALIASES, in input order */
    size_t alias_count, alias_cap;
    size_t orphan_count;   /* functions and metadata-less names that are orphans */
    struct call_site *sites;
    size_t site_count, site_cap;
    /* Nodes: the first function_count are the functions, in order. */
    struct node *nodes;
    size_t node_count, node_cap;
    /* Outgoing edges of node n: edges[edge_start[n] .. edge_start[n+1]). */
    struct edge *edges;
    uint32_t *edge_start;
    size_t edge_count;
    struct strmap symbols;   /* global and static names (functions, aliases) -> function */
    uint32_t main_function;  /* NONE when there is no main */
    int any_stack_sizes;     /* some input had .stack_sizes */
    struct checkpoint *checkpoints; /* grouped by function, in record order */
    size_t checkpoint_count;
    struct yield_site *yield_sites; /* in record order */
    size_t yield_site_count;
    uint8_t *parks; /* per function: 0 never parks, 1 may (unknown sites only), 2 parks */
};

void model_build(struct model *m, const struct inputs *in, const struct model_options *opts);
void model_free(struct model *m);

/* The function a global name (a function's or an alias's) links to, or NONE. */
uint32_t model_lookup(const struct model *m, const char *name);

const char *frame_source_name(enum frame_source source);

/* The corrected backend frame: see docs/capri-stack.md "How frames are corrected". */
uint64_t corrected_backend_size(uint64_t backend, const struct capri_md_function_entry *f,
                                uint16_t elf_machine);

#endif
