/* io.c - careful reads and writes: partial writes, EINTR, EPIPE */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "io.h"
#include "signals.h"

bool
io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0)
	{
		ssize_t		n = write(fd, p, len);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;		/* a stop is noticed by the caller at its next turn */
			return false;
		}
		p += n;
		len -= (size_t) n;
	}
	return true;
}

ssize_t
io_read(int fd, void *buf, size_t len)
{
	for (;;)
	{
		ssize_t		n = read(fd, buf, len);

		if (n >= 0 || errno != EINTR)
			return n;
		if (stop_requested)
			return -1;			/* errno is EINTR */
	}
}

bool
io_readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, timeout_ms) > 0;
}
