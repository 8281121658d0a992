/* lib/sha256.h: SHA-256, one-shot and streaming. */
#ifndef HAKO_LIB_SHA256_H
#define HAKO_LIB_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	size_t n;     /* bytes in buf */
	uint64_t len; /* bytes hashed in all */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[32]);
/* The digest of data in one call. */
void sha256(const void *data, size_t len, uint8_t out[32]);

#endif
