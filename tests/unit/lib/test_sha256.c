/* Unit tests for lib/sha256: FIPS 180-4 test vectors, one-shot and fed in
 * uneven pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/sha256.h"

static void sha_hex(const char *data, size_t len, char out[65])
{
	uint8_t d[32];

	sha256(data, len, d);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256(void **state)
{
	char h[65], *big = malloc(1000);

	(void)state;
	sha_hex("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 56 bytes: the length no longer fits in the first padding block */
	sha_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(big, 'a', 1000);
	sha_hex(big, 1000, h);
	assert_string_equal(h, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
	free(big);
}

static void test_streaming(void **state)
{
	static const size_t pieces[] = {0, 1, 63, 64, 65, 7, 200, 600};
	char *big = malloc(1000), h[65];
	struct sha256 s;
	uint8_t d[32];
	size_t off = 0;

	(void)state;
	memset(big, 'a', 1000);
	sha256_init(&s);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		size_t n = off + pieces[i] > 1000 ? 1000 - off : pieces[i];

		sha256_update(&s, big + off, n);
		off += n;
	}
	sha256_update(&s, big + off, 1000 - off);
	sha256_final(&s, d);
	for (int i = 0; i < 32; i++)
		sprintf(h + 2 * i, "%02x", d[i]);
	assert_string_equal(h, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sha256),
	        cmocka_unit_test(test_streaming),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
