/*
 * crc32c.c - CRC-32C (Castagnoli): the SSE 4.2 instruction where the CPU
 * has it (x86-64, chosen at the first call), else a table eight bytes at a
 * time.  Every event is checksummed once when written and once when read,
 * so on the catch-up path this is a good part of the programs' own CPU
 * time: the instruction is some ten times faster than the table.
 */
#include <stdbool.h>
#include <string.h>

#include "crc32c.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SSE42_PATH 1
#include <nmmintrin.h>
#endif

#define POLY 0x82f63b78u		/* reversed Castagnoli polynomial */

static uint32_t table[8][256];
static bool table_made;

static void
make_table(void)
{
	for (uint32_t i = 0; i < 256; i++)
	{
		uint32_t	c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t
crc32c_portable(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (!table_made)			/* the programs are single-threaded */
	{
		make_table();
		table_made = true;
	}
	crc = ~crc;
	while (len >= 8)
	{
		uint32_t	lo = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 |
								(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);

		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
			table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
			table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#ifdef HAVE_SSE42_PATH
__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t	c = ~crc;

	for (; len >= 8; p += 8, len -= 8)
	{
		uint64_t	v;

		memcpy(&v, p, 8);		/* little-endian, as the CRC wants it */
		c = _mm_crc32_u64(c, v);
	}
	crc = (uint32_t) c;
	while (len--)
		crc = _mm_crc32_u8(crc, *p++);
	return ~crc;
}
#endif

uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t (*impl) (uint32_t, const void *, size_t);

	if (impl == NULL)
	{
		impl = crc32c_portable;
#ifdef HAVE_SSE42_PATH
		__builtin_cpu_init();
		if (__builtin_cpu_supports("sse4.2"))
			impl = crc32c_sse42;
#endif
	}
	return impl(crc, buf, len);
}
