/* Unit tests for vmm/virtio/blk.c: reads, writes, flush, GET_ID, write
 * zeroes, read-only refusal, sector bounds, over a temporary image file. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/unit/vmm/virtio/vdriver.h"

#define SECTORS  2048 /* a 1 MiB image */
#define F_V1     (1ULL << VIRTIO_F_VERSION_1)
#define F_ALL    (F_V1 | (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | (1ULL << VIRTIO_F_RING_EVENT_IDX))
#define F_RO     (1ULL << 5)
#define F_FLUSH  (1ULL << 9)
#define F_WZEROS (1ULL << 14)

struct fixture {
	char path[64];
	struct vdriver v;
	uint64_t hdr, data, status;
};

static int setup(void **state, bool readonly)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t sector[512];
	struct virtio_dev *d;
	struct err e;
	int fd;

	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "/tmp/hako-test-blk-XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	/* Each sector holds its number in every byte pair. */
	for (uint16_t s = 0; s < SECTORS; s++) {
		for (int i = 0; i < 256; i++)
			memcpy(sector + 2 * i, &s, 2);
		assert_int_equal(write(fd, sector, 512), 512);
	}
	close(fd);
	vd_init(&f->v, 4 << 20);
	if (virtio_blk_new(&d, f->path, readonly, &e) < 0)
		fail_msg("virtio_blk_new: %s", e.msg);
	vd_attach(&f->v, d);
	f->hdr = vd_alloc(&f->v, 16, 16);
	f->data = vd_alloc(&f->v, 65536, 512);
	f->status = vd_alloc(&f->v, 1, 1);
	*state = f;
	return 0;
}

static int setup_rw(void **state)
{
	return setup(state, false);
}

static int setup_ro(void **state)
{
	return setup(state, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vd_fini(&f->v);
	unlink(f->path);
	free(f);
	return 0;
}

/* One request: header, data (readable for OUT, writable otherwise), status.
 * Returns the status byte; *used gets the used length. */
static uint8_t request(struct fixture *f, uint32_t type, uint64_t sector, uint32_t len,
                       bool indirect, uint32_t *used)
{
	struct vdriver *v = &f->v;
	uint32_t hdr[4] = {type, 0, (uint32_t)sector, (uint32_t)(sector >> 32)};
	bool out = type == 1 || type == 13;
	struct vd_buf b[3] = {{f->hdr, 16, false}, {f->data, len, !out}, {f->status, 1, true}};
	uint32_t l;

	memcpy(vd_ptr(v, f->hdr), hdr, 16);
	*(uint8_t *)vd_ptr(v, f->status) = 0xee;
	if (len)
		vd_add(v, 0, b, 3, indirect);
	else
		vd_add(v, 0, (struct vd_buf[]){b[0], b[2]}, 2, indirect);
	vd_kick(v, 0);
	assert_int_equal(vd_wait_used(v, 0, NULL, &l, 2000), 1);
	if (used)
		*used = l;
	return *(uint8_t *)vd_ptr(v, f->status);
}

static void test_config_and_features(void **state)
{
	struct fixture *f = *state;
	uint64_t cap;
	uint32_t feat = vd_read32(&f->v, 0x10), seg_max;

	assert_true(feat & F_FLUSH);
	assert_false(feat & F_RO);
	virtio_mmio_read(&f->v.mmio, 0x100, &cap, 8);
	assert_int_equal(cap, SECTORS);
	virtio_mmio_read(&f->v.mmio, 0x10c, &seg_max, 4);
	assert_int_equal(seg_max, VIRTQ_MAX_SEGS - 2);
}

static void test_read_write(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint16_t *data = vd_ptr(v, f->data);
	uint32_t used;

	vd_start(v, F_ALL, 1, 64);
	/* Read sectors 10..17. */
	assert_int_equal(request(f, 0, 10, 4096, false, &used), 0);
	assert_int_equal(used, 4097);
	assert_int_equal(data[0], 10);
	assert_int_equal(data[255], 10);
	assert_int_equal(data[256 * 7 + 3], 17);
	/* Write sector 5 with a pattern, through an indirect table, read it back. */
	memset(data, 0x5a, 512);
	assert_int_equal(request(f, 1, 5, 512, true, &used), 0);
	assert_int_equal(used, 1);
	memset(data, 0, 512);
	assert_int_equal(request(f, 0, 4, 1024, true, &used), 0);
	assert_int_equal(data[0], 4);
	assert_int_equal(data[256], 0x5a5a);
	/* Flush and GET_ID. */
	assert_int_equal(request(f, 4, 0, 0, false, &used), 0);
	assert_int_equal(used, 1);
	assert_int_equal(request(f, 8, 0, 20, false, &used), 0);
	assert_int_equal(used, 21);
	assert_memory_equal(vd_ptr(v, f->data), "hako-test-blk-", 14);
	/* Unknown request types are UNSUPP. */
	assert_int_equal(request(f, 99, 0, 0, false, NULL), 2);
	/* Write zeroes over sectors 5 and 6. */
	{
		uint64_t wz[2] = {5, 2};

		memcpy(data, wz, 16);
		assert_int_equal(request(f, 13, 0, 16, false, NULL), 0);
	}
	assert_int_equal(request(f, 0, 5, 1024, false, NULL), 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(data[i], 0);
	assert_false(vd_read32(v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_bounds(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint32_t used;

	vd_start(v, F_ALL, 1, 64);
	/* The last sector is fine, one past it is not, nor a huge sector. */
	assert_int_equal(request(f, 0, SECTORS - 1, 512, false, &used), 0);
	assert_int_equal(request(f, 0, SECTORS - 1, 1024, false, &used), 1);
	assert_int_equal(used, 1);
	assert_int_equal(request(f, 0, SECTORS, 512, false, NULL), 1);
	assert_int_equal(request(f, 1, UINT64_MAX, 512, false, NULL), 1);
	assert_int_equal(request(f, 1, UINT64_MAX / 512, 512, false, NULL), 1);
	/* Not a multiple of the sector size. */
	assert_int_equal(request(f, 0, 0, 100, false, NULL), 1);
	/* A header cut short. */
	{
		struct vd_buf b[2] = {{f->hdr, 8, false}, {f->status, 1, true}};

		*(uint8_t *)vd_ptr(v, f->status) = 0xee;
		vd_add(v, 0, b, 2, false);
		vd_kick(v, 0);
		assert_int_equal(vd_wait_used(v, 0, NULL, &used, 2000), 1);
		assert_int_equal(*(uint8_t *)vd_ptr(v, f->status), 1);
	}
	assert_false(vd_read32(v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint16_t *data = vd_ptr(v, f->data);

	assert_true(vd_read32(v, 0x10) & F_RO);
	assert_false(vd_read32(v, 0x10) & F_WZEROS);
	vd_start(v, F_V1 | F_RO, 1, 16);
	memset(data, 0x11, 512);
	assert_int_equal(request(f, 1, 3, 512, false, NULL), 1);
	assert_int_equal(request(f, 0, 3, 512, false, NULL), 0);
	assert_int_equal(data[0], 3);
	assert_int_equal(request(f, 4, 0, 0, false, NULL), 0);
}

/* More requests than the device takes at once (64): all complete, each with
 * its own sector's data. */
static void test_many_inflight(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint64_t hdr = vd_alloc(v, 16 * 100, 16), data = vd_alloc(v, 512 * 100, 512),
	         st = vd_alloc(v, 100, 1);
	bool seen[100] = {false};
	uint16_t head_of[128];

	vd_start(v, F_ALL, 1, 128);
	for (int i = 0; i < 100; i++) {
		uint32_t h[4] = {0, 0, (uint32_t)(7 * i), 0};
		struct vd_buf b[3] = {
		        {hdr + 16 * i, 16, false}, {data + 512 * i, 512, true}, {st + i, 1, true}};

		memcpy(vd_ptr(v, hdr + 16 * i), h, 16);
		head_of[vd_add(v, 0, b, 3, true)] = i;
	}
	vd_kick(v, 0);
	for (int n = 0; n < 100; n++) {
		uint32_t id, len;
		int i;

		assert_int_equal(vd_wait_used(v, 0, &id, &len, 2000), 1);
		i = head_of[id];
		assert_false(seen[i]);
		seen[i] = true;
		assert_int_equal(len, 513);
		assert_int_equal(*(uint8_t *)vd_ptr(v, st + i), 0);
		assert_int_equal(*(uint16_t *)vd_ptr(v, data + 512 * i), 7 * i);
	}
}

/* A reset with requests taken but not answered: none of them is answered
 * into the reset ring, and the device works afterwards. */
static void test_reset_inflight(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint16_t *used;
	struct err e;

	vd_start(v, F_ALL, 1, 64);
	used = vd_ptr(v, v->q[0].used);
	for (int i = 0; i < 20; i++) {
		uint32_t h[4] = {0, 0, (uint32_t)i, 0};
		struct vd_buf b[3] = {
		        {f->hdr, 16, false}, {f->data, 4096, true}, {f->status, 1, true}};

		memcpy(vd_ptr(v, f->hdr), h, 16);
		vd_add(v, 0, b, 3, true);
	}
	vd_kick(v, 0);
	/* The kick reaches the device; then the driver resets at once. */
	assert_true(loop_run_once(v->loop, 1000, &e) >= 1);
	vd_write32(v, 0x70, 0);
	vd_run(v, 30);
	assert_int_equal(used[1], 0);
	vd_start(v, F_ALL, 1, 64);
	assert_int_equal(request(f, 0, 3, 512, false, NULL), 0);
}

static void test_open_errors(void **state)
{
	struct virtio_dev *d;
	struct err e;

	(void)state;
	assert_int_equal(virtio_blk_new(&d, "/nonexistent/disk.img", false, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/disk.img"));
	assert_int_equal(virtio_blk_new(&d, "/tmp", true, &e), -1);
	assert_non_null(strstr(e.msg, "not supported"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_config_and_features, setup_rw, teardown),
	        cmocka_unit_test_setup_teardown(test_read_write, setup_rw, teardown),
	        cmocka_unit_test_setup_teardown(test_bounds, setup_rw, teardown),
	        cmocka_unit_test_setup_teardown(test_readonly, setup_ro, teardown),
	        cmocka_unit_test_setup_teardown(test_many_inflight, setup_rw, teardown),
	        cmocka_unit_test_setup_teardown(test_reset_inflight, setup_rw, teardown),
	        cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
