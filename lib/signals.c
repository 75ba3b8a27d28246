/* signals.c - SIGINT/SIGTERM set a flag; SIGPIPE becomes EPIPE */
#include <string.h>

#include "signals.h"

volatile sig_atomic_t stop_requested = 0;

static void
on_stop(int sig)
{
	(void) sig;
	stop_requested = 1;
}

void
signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;			/* no SA_RESTART: blocking calls return EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}
