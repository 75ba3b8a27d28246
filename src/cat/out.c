/* out.c - slate-cat's buffered stdout: one write per 256 kB, big texts passed straight through */
#include <string.h>
#include <unistd.h>

#include "cat.h"
#include "io.h"
#include "log.h"

#define OUT_SIZE (256 * 1024)

static char out_buf[OUT_SIZE];
static size_t out_len;

bool
out_flush(void)
{
	if (out_len > 0 && !io_write_all(STDOUT_FILENO, out_buf, out_len))
		return false;
	out_len = 0;
	return true;
}

bool
out_put(const void *p, size_t n)
{
	if (n > OUT_SIZE - out_len)
	{
		if (!out_flush())
			return false;
		if (n > OUT_SIZE)
			return io_write_all(STDOUT_FILENO, p, n);
	}
	memcpy(out_buf + out_len, p, n);
	out_len += n;
	return true;
}

bool
out_str(const char *s)
{
	return out_put(s, strlen(s));
}

bool
out_json_string(const char *s)
{
	/* the strings escaped here are the header's, each under STREAM_FILTER_MAX bytes */
	char		buf[6 * STREAM_FILTER_MAX + 16];
	size_t		pos = 0;

	buf[pos++] = '"';
	json_escape(buf, sizeof(buf) - 2, &pos, s, strlen(s));
	buf[pos++] = '"';
	return out_put(buf, pos);
}
