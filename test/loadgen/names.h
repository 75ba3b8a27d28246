/* names.h - the first and last names slate-loadgen gives its people */
#ifndef SLATE_LOADGEN_NAMES_H
#define SLATE_LOADGEN_NAMES_H

#include <stddef.h>

extern const char *const first_names[];
extern const size_t n_first_names;
extern const char *const last_names[];
extern const size_t n_last_names;

#endif
