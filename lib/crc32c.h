/* crc32c.h - CRC-32C (Castagnoli), the checksum of event messages */
#ifndef SLATE_CRC32C_H
#define SLATE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* continue crc (start with 0) over len bytes */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* the same with a table, what crc32c() uses on CPUs without SSE 4.2 (the
 * tests compare the two) */
uint32_t crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif
