/*
 * Analysis of the whole-program call graph: strongly connected components
 * (recursion), the worst-case stack of every node with the path that reaches
 * it, the roots to report, and the findings a CI gate can fail on.
 */
#ifndef CAPRI_STACK_ANALYSIS_H
#define CAPRI_STACK_ANALYSIS_H

#include "model.h"

/* Why a worst-case figure is only a lower bound. */
#define UNBOUNDED_RECURSION (1u << 0)  /* reaches a recursion cycle without a bound */
#define UNBOUNDED_DYNAMIC (1u << 1)    /* reaches a frame with dynamic allocas */

/* Finding classes, for --fail-on and the SARIF rules. */
enum finding {
    FINDING_RECURSION,
    FINDING_UNRESOLVED,
    FINDING_DYNAMIC_ALLOCA,
    FINDING_EXTERNAL,
    FINDING_STACK_LIMIT,
    FINDING_DEAD_STATE, /* a yield site whose frame holds dead objects over the threshold */
    FINDING_LIVE_STATE, /* a yield site with live state over the threshold */
    FINDING_COUNT
};

/* The --fail-on names and SARIF rule ids, indexed by enum finding. */
extern const char *const finding_names[FINDING_COUNT];

struct cycle {
    uint32_t *functions; /* function indices, ascending */
    size_t count;
    int bounded;        /* every loop passes through a function with a declared bound */
    uint64_t bound_sum; /* sum of the declared bounds */
    uint64_t frame_sum; /* sum of the frames in the cycle */
    uint64_t charge;    /* what the cycle adds to a path: (bound_sum + 1) * frame_sum */
};

struct node_result {
    uint64_t worst;     /* worst-case stack from this node's entry, its frame included */
    uint32_t next_edge; /* edge index continuing the worst path, or NONE */
    uint32_t cycle;     /* index into cycles when the node is in one, or NONE */
    unsigned unbounded; /* UNBOUNDED_* flags of everything reachable */
};

struct root {
    uint32_t function;
    uint64_t worst;
    unsigned unbounded;
};

/*
 * A call into code without metadata: a NAMED call nobody defines, or an
 * indirect call one of whose candidates is a referenced function nobody
 * defines (one per such candidate). A finding when the callee is charged
 * the reserve; a callee charged its measured mark (SOURCE_MARK) is not.
 */
struct external_call {
    uint32_t site;   /* call site index */
    uint32_t node;   /* the NODE_EXTERNAL callee */
    int indirect;    /* reached through an indirect call */
};

struct analysis_options {
    const char *const *roots; /* --root names, or NULL for the default roots */
    size_t root_count;
    uint64_t stack_limit; /* for FINDING_STACK_LIMIT; 0: no limit */
    int has_stack_limit;
    uint64_t dead_state_threshold; /* FINDING_DEAD_STATE: dead bytes at a site, at least */
    uint64_t live_state_threshold; /* FINDING_LIVE_STATE: live bytes at a site, at least */
};

#define DEFAULT_DEAD_STATE_THRESHOLD 1024u
#define DEFAULT_LIVE_STATE_THRESHOLD 4096u

struct analysis {
    const struct model *model;
    uint32_t *scc_of;  /* node -> component, components in reverse topological order */
    uint32_t scc_count;
    struct node_result *results;
    struct cycle *cycles;
    size_t cycle_count, cycle_cap;
    struct root *roots; /* sorted: unbounded first, then by worst, then by name */
    size_t root_count, root_cap;
    /* Findings. */
    uint32_t *unresolved_sites; /* SITE_UNRESOLVED and SITE_ASM */
    size_t unresolved_count, unresolved_cap;
    struct external_call *externals; /* charged the reserve */
    size_t external_count, external_cap;
    struct external_call *marked; /* charged a measured mark: not findings */
    size_t marked_count;
    uint32_t *dynamic_functions;
    size_t dynamic_count, dynamic_cap;
    uint32_t *over_limit_roots; /* indices into roots */
    size_t over_limit_count, over_limit_cap;
    uint32_t *dead_state_sites; /* indices into the model's yield_sites */
    size_t dead_state_count, dead_state_cap;
    uint32_t *live_state_sites;
    size_t live_state_count, live_state_cap;
    size_t unbounded_cycles;
    struct analysis_options options;
};

/* Returns -1 with a message when a --root name does not exist. */
int analysis_run(struct analysis *a, const struct model *m, const struct analysis_options *opts,
                 struct error *err);
void analysis_free(struct analysis *a);

/* How many findings of a class exist (recursion counts unbounded cycles only). */
size_t finding_count(const struct analysis *a, enum finding f);

/* A step of a root's worst path, for the reporters. */
struct path_step {
    uint32_t node;
    uint32_t via_site; /* the call that reached this node, or NONE for the root */
    int indirect;      /* reached through a type set */
    int orphan;        /* ... an orphan set: the callee's C type is no call's */
};

/* The worst path from a root (type sets are left out). Caller frees *steps. */
size_t analysis_path(const struct analysis *a, uint32_t root_function, struct path_step **steps);

#endif
