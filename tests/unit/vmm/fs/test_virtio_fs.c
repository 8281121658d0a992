/* Unit tests for vmm/fs/virtio_fs.c: the virtio-fs device driven through its
 * virtqueues by the test driver (tests/unit/vmm/virtio/vdriver.h) over
 * simulated guest memory: config space, FUSE requests on the request queue
 * with data spread over several descriptors (direct and indirect), FORGET
 * on the hiprio queue, chains without a FUSE request. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "tests/unit/vmm/virtio/vdriver.h"

#define F_ALL                                                                                      \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC) |                    \
	 (1ULL << VIRTIO_F_RING_EVENT_IDX))
#define Q_HIPRIO  0
#define Q_REQUEST 1
#define FILE_LEN  10000

struct fixture {
	char dir[64];
	struct vdriver v;
	uint64_t req, reply, data;
	uint64_t unique;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_dev *d;
	char path[128];
	uint8_t buf[FILE_LEN];
	struct err e;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/hako-test-vfs.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	for (int i = 0; i < FILE_LEN; i++)
		buf[i] = (uint8_t)(i % 251);
	snprintf(path, sizeof(path), "%s/hello", f->dir);
	assert_int_equal(util_write_file(path, buf, FILE_LEN, 0644, &e), 0);
	vd_init(&f->v, 4 << 20);
	if (virtio_fs_new(&d, "myfs", f->dir, &e) < 0)
		fail_msg("virtio_fs_new: %s", e.msg);
	vd_attach(&f->v, d);
	f->req = vd_alloc(&f->v, 4096, 64);
	f->reply = vd_alloc(&f->v, 4096, 64);
	f->data = vd_alloc(&f->v, 4 * 4096, 4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct err e;

	vd_fini(&f->v);
	assert_int_equal(util_rm_rf(f->dir, &e), 0);
	free(f);
	return 0;
}

/* Write a FUSE request (header, arg, name) at f->req; returns its length. */
static uint32_t put_req(struct fixture *f, uint32_t op, uint64_t nodeid, const void *arg,
                        size_t arglen, const char *name, size_t extra)
{
	uint8_t *p = vd_ptr(&f->v, f->req);
	size_t namelen = name ? strlen(name) + 1 : 0;
	struct fuse_in_header h = {
	        .len = (uint32_t)(sizeof(h) + arglen + namelen + extra),
	        .opcode = op,
	        .unique = ++f->unique,
	        .nodeid = nodeid,
	};

	memcpy(p, &h, sizeof(h));
	if (arglen)
		memcpy(p + sizeof(h), arg, arglen);
	if (name)
		memcpy(p + sizeof(h) + arglen, name, namelen);
	return (uint32_t)(sizeof(h) + arglen + namelen);
}

/* Send a chain and wait for it; returns the used length. */
static uint32_t send(struct fixture *f, unsigned int q, const struct vd_buf *b, unsigned int n,
                     bool indirect)
{
	uint32_t len;

	vd_add(&f->v, q, b, n, indirect);
	vd_kick(&f->v, q);
	assert_int_equal(vd_wait_used(&f->v, q, NULL, &len, 2000), 1);
	return len;
}

/* A request with one readable and one writable buffer; returns the reply
 * error and copies the payload to out. */
static int simple(struct fixture *f, uint32_t op, uint64_t nodeid, const void *arg, size_t arglen,
                  const char *name, void *out, size_t outlen)
{
	uint32_t rl = put_req(f, op, nodeid, arg, arglen, name, 0);
	struct vd_buf b[2] = {
	        {f->req, rl, false},
	        {f->reply, (uint32_t)(sizeof(struct fuse_out_header) + outlen), true}};
	struct fuse_out_header oh;
	uint32_t used = send(f, Q_REQUEST, b, 2, false);

	memcpy(&oh, vd_ptr(&f->v, f->reply), sizeof(oh));
	assert_int_equal(oh.len, used);
	assert_int_equal(oh.unique, f->unique);
	if (oh.error == 0 && out)
		memcpy(out, (uint8_t *)vd_ptr(&f->v, f->reply) + sizeof(oh), outlen);
	return oh.error;
}

static void init(struct fixture *f)
{
	struct fuse_init_in in = {.major = 7, .minor = 37, .flags = FUSE_DO_READDIRPLUS};
	struct fuse_init_out o;

	vd_start(&f->v, F_ALL, 2, 64);
	assert_int_equal(simple(f, FUSE_INIT, 0, &in, sizeof(in), NULL, &o, sizeof(o)), 0);
	assert_int_equal(o.major, 7);
	assert_int_equal(o.minor, 37);
	assert_int_equal(o.flags, FUSE_DO_READDIRPLUS);
}

static void test_config(void **state)
{
	struct fixture *f = *state;
	char tag[36] = {0};
	uint32_t nrq;

	assert_int_equal(vd_read32(&f->v, 0x008), VIRTIO_ID_FS);
	vd_write32(&f->v, 0x14, 0);
	assert_true(vd_read32(&f->v, 0x10) & (1u << VIRTIO_F_RING_INDIRECT_DESC));
	virtio_mmio_read(&f->v.mmio, 0x100, tag, 4);
	virtio_mmio_read(&f->v.mmio, 0x104, tag + 4, 4);
	assert_memory_equal(tag, "myfs\0\0\0\0", 8);
	virtio_mmio_read(&f->v.mmio, 0x100 + 36, &nrq, 4);
	assert_int_equal(nrq, 1);
	/* Two queues: hiprio and one request queue. */
	vd_write32(&f->v, 0x30, 1);
	assert_true(vd_read32(&f->v, 0x34) > 0);
	vd_write32(&f->v, 0x30, 2);
	assert_int_equal(vd_read32(&f->v, 0x34), 0);
}

static void test_read_write(void **state)
{
	struct fixture *f = *state;
	struct fuse_entry_out eo;
	struct fuse_open_in oi = {.flags = O_RDWR};
	struct fuse_open_out oo;
	struct fuse_out_header oh;
	uint32_t rl, used;
	uint8_t *data = vd_ptr(&f->v, f->data);

	init(f);
	assert_int_equal(simple(f, FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "hello", &eo, sizeof(eo)),
	                 0);
	assert_int_equal(eo.attr.size, FILE_LEN);
	assert_int_equal(simple(f, FUSE_OPEN, eo.nodeid, &oi, sizeof(oi), NULL, &oo, sizeof(oo)),
	                 0);

	/* READ into a header buffer and three pages, as Linux lays it out;
	 * once direct, once through an indirect table. */
	for (int indirect = 0; indirect < 2; indirect++) {
		struct fuse_read_in ri = {.fh = oo.fh, .offset = 0, .size = 3 * 4096};
		struct vd_buf b[5] = {
		        {f->req, 0, false},           {f->reply, sizeof(oh), true},
		        {f->data, 4096, true},        {f->data + 4096, 4096, true},
		        {f->data + 8192, 4096, true},
		};

		memset(data, 0, 3 * 4096);
		b[0].len = put_req(f, FUSE_READ, eo.nodeid, &ri, sizeof(ri), NULL, 0);
		used = send(f, Q_REQUEST, b, 5, indirect);
		assert_int_equal(used, sizeof(oh) + FILE_LEN);
		memcpy(&oh, vd_ptr(&f->v, f->reply), sizeof(oh));
		assert_int_equal(oh.error, 0);
		for (int i = 0; i < FILE_LEN; i++)
			assert_int_equal(data[i], i % 251);
	}

	/* WRITE with the data in two separate pages after the header. */
	struct fuse_write_in wi = {.fh = oo.fh, .offset = 100, .size = 8192};
	struct fuse_write_out wo;
	memset(data, 'A', 4096);
	memset(data + 4096, 'B', 4096);
	rl = put_req(f, FUSE_WRITE, eo.nodeid, &wi, sizeof(wi), NULL, 8192);
	struct vd_buf w[4] = {{f->req, rl, false},
	                      {f->data, 4096, false},
	                      {f->data + 4096, 4096, false},
	                      {f->reply, sizeof(oh) + sizeof(wo), true}};
	used = send(f, Q_REQUEST, w, 4, true);
	assert_int_equal(used, sizeof(oh) + sizeof(wo));
	memcpy(&wo, (uint8_t *)vd_ptr(&f->v, f->reply) + sizeof(oh), sizeof(wo));
	assert_int_equal(wo.size, 8192);

	char path[128], *buf;
	size_t len;
	struct err e;
	snprintf(path, sizeof(path), "%s/hello", f->dir);
	assert_int_equal(util_read_file(path, 1 << 20, &buf, &len, &e), 0);
	assert_int_equal(len, FILE_LEN);
	assert_int_equal(buf[99], 99);
	assert_int_equal(buf[100], 'A');
	assert_int_equal(buf[100 + 4096], 'B');
	free(buf);

	/* FORGET on the hiprio queue: readable only, nothing written back. */
	struct fuse_forget_in fi = {.nlookup = 1};
	rl = put_req(f, FUSE_FORGET, eo.nodeid, &fi, sizeof(fi), NULL, 0);
	used = send(f, Q_HIPRIO, (struct vd_buf[]){{f->req, rl, false}}, 1, false);
	assert_int_equal(used, 0);
	struct fuse_getattr_in gi = {0};
	assert_int_equal(simple(f, FUSE_GETATTR, eo.nodeid, &gi, sizeof(gi), NULL, NULL, 120),
	                 -ESTALE);
}

static void test_bad_chains(void **state)
{
	struct fixture *f = *state;
	struct fuse_getattr_in gi = {0};
	struct fuse_attr_out ao;
	uint32_t rl;

	init(f);
	/* Only a writable buffer: no request to answer. */
	assert_int_equal(send(f, Q_REQUEST, (struct vd_buf[]){{f->reply, 64, true}}, 1, false), 0);
	/* A request whose header claims more than the chain holds. */
	rl = put_req(f, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi), NULL, 4096);
	assert_int_equal(send(f, Q_REQUEST,
	                      (struct vd_buf[]){{f->req, rl, false}, {f->reply, 200, true}}, 2,
	                      false),
	                 sizeof(struct fuse_out_header));
	assert_int_equal(((struct fuse_out_header *)vd_ptr(&f->v, f->reply))->error, -EINVAL);
	/* The device is still fine and serving. */
	assert_false(vd_read32(&f->v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(
	        simple(f, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi), NULL, &ao, sizeof(ao)), 0);
	assert_true(S_ISDIR(ao.attr.mode));
}

static void test_new_errors(void **state)
{
	struct virtio_dev *d;
	struct err e;

	(void)state;
	assert_int_equal(virtio_fs_new(&d, "", "/tmp", &e), -1);
	assert_int_equal(e.errnum, EINVAL);
	assert_int_equal(virtio_fs_new(&d, "0123456789012345678901234567890123456", "/tmp", &e),
	                 -1);
	assert_int_equal(virtio_fs_new(&d, "t", "/nonexistent/hako", &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/hako"));
	assert_int_equal(virtio_fs_new(&d, "t", "/etc/passwd", &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_chains, setup, teardown),
	        cmocka_unit_test(test_new_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
