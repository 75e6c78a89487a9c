/* The plugin's metadata records registered by instrumented modules. */
#ifndef CAPRI_MODULES_H
#define CAPRI_MODULES_H

/* Validates every registered record (a record this libcapri cannot read
 * stops the program with a message); returns how many are live. */
int modules_load(void);

struct capri_md_header;
/* The registered records, newest first (unregistered ones included: ask
 * modules_dead before reading one). */
struct capri_md_header *modules_first(void);
struct capri_md_header *modules_next(const struct capri_md_header *h);
int modules_dead(const struct capri_md_header *h);

#endif
