/* io.h - careful reads and writes: partial writes, EINTR, EPIPE */
#ifndef SLATE_IO_H
#define SLATE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* write all of buf; false with errno set on failure (EPIPE when the reader went away) */
bool io_write_all(int fd, const void *buf, size_t len);
/* read up to len bytes, retrying EINTR unless a stop was requested; -1 on error, 0 on EOF */
ssize_t io_read(int fd, void *buf, size_t len);
/* true when fd has bytes (or EOF) ready now */
bool io_readable(int fd, int timeout_ms);

#endif
