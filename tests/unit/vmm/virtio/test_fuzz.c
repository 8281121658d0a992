/* Fuzz loop for the device model: a hostile driver fills descriptor tables,
 * indirect tables, avail rings and packet headers with random values (biased
 * towards the edges of guest memory) and kicks every queue of every device.
 * Nothing may crash or touch memory outside the guest (run it under ASan);
 * each device ends either serving or in DEVICE_NEEDS_RESET. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/log.h"
#include "tests/unit/vmm/virtio/vdriver.h"

#define RAM   (1u << 20)
#define QSIZE 16

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* An address: mostly inside guest memory, sometimes at or past its edges. */
static uint64_t rnd_addr(void)
{
	switch (rnd() % 8) {
	case 0:
		return rnd();
	case 1:
		return VD_GPA_BASE + RAM - rnd() % 64;
	case 2:
		return VD_GPA_BASE - rnd() % 64;
	case 3:
		return 0;
	default:
		return VD_GPA_BASE + rnd() % RAM;
	}
}

static uint32_t rnd_len(void)
{
	switch (rnd() % 6) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)rnd();
	case 2:
		return 44 + rnd() % 16;
	default:
		return rnd() % 4096;
	}
}

/* Random bytes over guest RAM outside the rings, so headers and indirect
 * tables found there are random too. */
static void scramble(struct vdriver *v, uint64_t from)
{
	uint8_t *p = vd_ptr(v, from);
	size_t n = VD_GPA_BASE + RAM - from;

	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t x = rnd();

		/* Small numbers (request types, ops, lengths) and guest
		 * addresses (indirect tables) turn up often. */
		if (x % 4 == 0)
			x = (x >> 8) % 16;
		else if (x % 8 == 1)
			x = VD_GPA_BASE + (x >> 8) % RAM;
		memcpy(p + i, &x, 8);
	}
}

/* A well-formed chain of 1-4 buffers with random contents, past the rings:
 * these reach the devices' request parsing. */
static void valid_chain(struct vdriver *v, unsigned int q, uint16_t head)
{
	unsigned int n = 1 + rnd() % 4, nr_out = rnd() % (n + 1);
	uint64_t room = VD_GPA_BASE + RAM - v->brk;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = rnd() % 2 ? 1 + rnd() % 64 : rnd() % 8192;
		uint64_t addr = v->brk + rnd() % (room - len);

		vd_set_desc(v, q, (head + i) % QSIZE, addr, len,
		            (i + 1 < n ? VD_DESC_F_NEXT : 0) | (i >= nr_out ? VD_DESC_F_WRITE : 0),
		            (head + i + 1) % QSIZE);
	}
}

static void fuzz_queue(struct vdriver *v, unsigned int q)
{
	uint16_t *avail = vd_ptr(v, v->q[q].avail);
	unsigned int n = 1 + rnd() % 4;
	bool valid = rnd() % 2;

	for (uint16_t i = 0; i < QSIZE; i++)
		vd_set_desc(v, q, i, rnd_addr(), rnd_len(), rnd() % 8, rnd() % (QSIZE + 2));
	for (unsigned int i = 0; i < n; i++) {
		uint16_t head = valid ? (i * 4) % QSIZE : rnd() % (QSIZE + 1);

		if (valid)
			valid_chain(v, q, head);
		avail[2 + (v->q[q].avail_idx + i) % QSIZE] = head;
	}
	avail[0] = rnd() % 2;
	avail[2 + QSIZE] = rnd();
	v->q[q].avail_idx += valid || rnd() % 8 ? n : (uint16_t)rnd();
	__atomic_store_n(&avail[1], v->q[q].avail_idx, __ATOMIC_RELEASE);
	vd_kick(v, q);
}

static void fuzz_device(struct virtio_dev *d, unsigned int nq)
{
	struct vdriver v;
	uint64_t base;
	struct err e;
	int served = 0, broken = 0;
	/* HAKO_FUZZ_ROUNDS=N for a longer run, HAKO_FUZZ_SEED=N for another sequence. */
	int rounds = getenv("HAKO_FUZZ_ROUNDS") ? atoi(getenv("HAKO_FUZZ_ROUNDS")) : 2000;

	vd_init(&v, RAM);
	vd_attach(&v, d);
	base = v.brk;
	for (int round = 0; round < rounds; round++) {
		uint64_t feat = (1ULL << VIRTIO_F_VERSION_1) | (rnd() % 2 ? 1ULL << 28 : 0) |
		                (rnd() % 2 ? 1ULL << 29 : 0);

		v.brk = base; /* the same ring addresses every round */
		vd_start(&v, feat & v.dev->host_features, nq, QSIZE);
		if (round % 16 == 0)
			scramble(&v, v.brk);
		for (int k = 0; k < 3; k++) {
			fuzz_queue(&v, rnd() % nq);
			for (int i = 0; i < 4; i++)
				assert_true(loop_run_once(v.loop, 0, &e) >= 0);
		}
		if (vd_read32(&v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
			broken++;
		else
			served++;
	}
	/* Both outcomes happen: the fuzzer is neither all noise nor all valid. */
	print_message("%s: %d rounds served, %d broke the device\n", d->ops->name, served, broken);
	assert_true(broken > 0);
	vd_fini(&v);
}

static void test_fuzz_echo(void **state)
{
	(void)state;
	fuzz_device(&vd_echo_new((1ULL << 28) | (1ULL << 29))->dev, 2);
}

static void test_fuzz_blk(void **state)
{
	char path[] = "/tmp/hako-test-fuzz-XXXXXX";
	int fd = mkstemp(path);
	struct virtio_dev *d;
	struct err e;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(virtio_blk_new(&d, path, false, &e), 0);
	fuzz_device(d, 1);
	unlink(path);
}

static void test_fuzz_net(void **state)
{
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	struct virtio_dev *d;
	struct err e;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(virtio_net_new(&d, sv[0], mac, &e), 0);
	/* Frames waiting for rx buffers. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(send(sv[1], "0123456789abcdef", 16, 0), 16);
	fuzz_device(d, 2);
	close(sv[0]);
	close(sv[1]);
}

static void test_fuzz_vsock(void **state)
{
	char dir[] = "/tmp/hako-test-fuzz-XXXXXX", path[64];
	struct virtio_dev *d;
	struct err e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	assert_int_equal(virtio_vsock_new(&d, 3, path, &e), 0);
	fuzz_device(d, 3);
	assert_int_equal(rmdir(dir), 0);
}

static void test_fuzz_console(void **state)
{
	struct virtio_dev *d;
	struct err e;
	int in[2], out[2];

	(void)state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(write(in[1], "typed", 5), 5);
	assert_int_equal(virtio_console_new(&d, in[0], out[1], &e), 0);
	fuzz_device(d, 2);
	for (int i = 0; i < 2; i++)
		close(in[i]), close(out[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fuzz_echo),    cmocka_unit_test(test_fuzz_blk),
	        cmocka_unit_test(test_fuzz_net),     cmocka_unit_test(test_fuzz_vsock),
	        cmocka_unit_test(test_fuzz_console),
	};

	struct err e;

	if (getenv("HAKO_FUZZ_SEED"))
		rng = strtoull(getenv("HAKO_FUZZ_SEED"), NULL, 0) | 1;
	/* Every broken round logs why; keep the test output readable. */
	if (log_open("/dev/null", 0, &e) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
