/* signals.h - SIGINT/SIGTERM set a flag; SIGPIPE becomes EPIPE */
#ifndef SLATE_SIGNALS_H
#define SLATE_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

extern volatile sig_atomic_t stop_requested;

/* install handlers (no SA_RESTART, so blocking calls return EINTR) and ignore SIGPIPE */
void signals_init(void);

#endif
