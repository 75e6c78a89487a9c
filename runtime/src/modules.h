/* The plugin's metadata records registered by instrumented modules. */
#ifndef CAPRI_MODULES_H
#define CAPRI_MODULES_H

/* Validates every registered record (a record this libcapri cannot read
 * stops the program with a message); returns how many are live. */
int modules_load(void);

#endif
