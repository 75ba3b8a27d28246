/* trace.c - SLATE_TRACE hop timestamps; see trace.h */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "trace.h"

static int	trace_fd = -2;		/* -2: not looked at yet, -1: off */

void
trace_mark(const char *what)
{
	char		line[128];
	int			n;

	if (trace_fd == -1)
		return;
	if (trace_fd == -2)
	{
		const char *path = getenv("SLATE_TRACE");

		trace_fd = path && *path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
		if (trace_fd < 0)
		{
			if (path && *path)
				log_warn("SLATE_TRACE: cannot open %s; not tracing", path);
			trace_fd = -1;
			return;
		}
	}
	n = snprintf(line, sizeof(line), "%s %s %.9f\n", log_program(), what, now_s());
	/* one write to an O_APPEND file: lines of different programs never mix */
	if (n > 0 && write(trace_fd, line, (size_t) n) < 0)
		trace_fd = -1;
}
