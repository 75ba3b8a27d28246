/* exitcodes.h - the one table of exit statuses shared by every slate program */
#ifndef SLATE_EXITCODES_H
#define SLATE_EXITCODES_H

enum slate_exit {
	EXIT_OK = 0,		/* done, or stopped cleanly by SIGINT/SIGTERM/EPIPE */
	EXIT_DB = 1,		/* database or connection failure */
	EXIT_USAGE = 2,		/* bad option, argument or configuration */
	EXIT_INPUT = 3,		/* bad input stream: cut, corrupt, unexpected */
	EXIT_REFUSED = 4,	/* would break the invariant: gap, hole, other source, ahead, locked;
						   --repair: a row that differs beyond the original's precision */
	EXIT_IO = 5			/* read/write error on stdin/stdout */
};

#endif
