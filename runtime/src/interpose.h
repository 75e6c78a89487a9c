/*
 * Finding the next definition of a symbol libcapri interposes: a
 * sanitizer's interceptor (__interceptor_<name>, weak) when one is linked,
 * otherwise dlsym(RTLD_NEXT). Resolve in constructors, never in handlers.
 */
#ifndef CAPRI_INTERPOSE_H
#define CAPRI_INTERPOSE_H

void *interpose_next(const char *name, void *interceptor);

#endif
