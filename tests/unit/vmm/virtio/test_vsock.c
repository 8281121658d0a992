/* Unit tests for vmm/virtio/vsock.c: the test plays the guest kernel's
 * vsock transport over the queues while real unix sockets play the host
 * programs (hybrid vsock: CONNECT lines, <uds>_<port> listeners). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "tests/unit/vmm/virtio/vdriver.h"

#define RXQ   0
#define TXQ   1
#define CID   3
#define NRX   8
#define RXBUF (44 + 4096)
#define F_ALL                                                                                      \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC) |                    \
	 (1ULL << VIRTIO_F_RING_EVENT_IDX))

enum { REQUEST = 1, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST };

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct fixture {
	char dir[64], uds[96];
	struct vdriver v;
	uint64_t rx[VIRTQ_MAX_SIZE]; /* rx buffer by head */
	uint8_t data[8192];          /* payload of the last packet received */
};

static void post_rx(struct fixture *f, uint64_t gpa)
{
	uint16_t head = vd_add(&f->v, RXQ, (struct vd_buf[]){{gpa, RXBUF, true}}, 1, false);

	f->rx[head] = gpa;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_dev *d;
	struct err e;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/hako-test-vsock-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	vd_init(&f->v, 8 << 20);
	if (virtio_vsock_new(&d, CID, f->uds, &e) < 0)
		fail_msg("virtio_vsock_new: %s", e.msg);
	vd_attach(&f->v, d);
	vd_start(&f->v, F_ALL, 3, 64);
	for (int i = 0; i < NRX; i++)
		post_rx(f, vd_alloc(&f->v, RXBUF, 8));
	vd_kick(&f->v, RXQ);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	vd_fini(&f->v);
	snprintf(path, sizeof(path), "%s/v.sock_5000", f->dir);
	unlink(path);
	assert_int_equal(rmdir(f->dir), 0); /* the device removed its socket */
	free(f);
	return 0;
}

/* Send one packet from the "guest": header and payload in two descriptors. */
static void gsend(struct fixture *f, uint16_t op, uint32_t src_port, uint32_t dst_port,
                  uint32_t flags, const void *data, uint32_t len, uint32_t buf_alloc,
                  uint32_t fwd_cnt)
{
	struct vdriver *v = &f->v;
	uint64_t h = vd_alloc(v, sizeof(struct hdr) + len, 8);
	struct hdr hd = {.src_cid = CID,
	                 .dst_cid = 2,
	                 .src_port = src_port,
	                 .dst_port = dst_port,
	                 .len = len,
	                 .type = 1,
	                 .op = op,
	                 .flags = flags,
	                 .buf_alloc = buf_alloc,
	                 .fwd_cnt = fwd_cnt};

	memcpy(vd_ptr(v, h), &hd, sizeof(hd));
	if (len)
		memcpy((uint8_t *)vd_ptr(v, h) + sizeof(hd), data, len);
	if (len)
		vd_add(v, TXQ,
		       (struct vd_buf[]){{h, sizeof(hd), false}, {h + sizeof(hd), len, false}}, 2,
		       false);
	else
		vd_add(v, TXQ, (struct vd_buf[]){{h, sizeof(hd), false}}, 1, false);
	vd_kick(v, TXQ);
	assert_int_equal(vd_wait_used(v, TXQ, NULL, NULL, 2000), 1);
}

/* Wait for one packet to the "guest"; returns 0 on timeout. The payload
 * lands in f->data and the buffer is given back. */
static int grecv(struct fixture *f, struct hdr *h, int timeout_ms)
{
	uint32_t id, len;
	uint8_t *p;

	if (!vd_wait_used(&f->v, RXQ, &id, &len, timeout_ms))
		return 0;
	p = vd_ptr(&f->v, f->rx[id]);
	assert_true(len >= sizeof(*h));
	memcpy(h, p, sizeof(*h));
	assert_int_equal(len, sizeof(*h) + h->len);
	assert_int_equal(h->src_cid, 2);
	assert_int_equal(h->dst_cid, CID);
	assert_int_equal(h->type, 1);
	memcpy(f->data, p + sizeof(*h), h->len);
	post_rx(f, f->rx[id]);
	vd_kick(&f->v, RXQ);
	return 1;
}

static int uconnect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Host-side read with the loop running; returns bytes (0: EOF, -1: timeout). */
static ssize_t hread(struct fixture *f, int fd, void *buf, size_t len)
{
	for (int i = 0; i < 400; i++) {
		ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);

		if (r >= 0)
			return r;
		assert_int_equal(errno, EAGAIN);
		vd_run(&f->v, 5);
	}
	return -1;
}

/* Host program connects to guest port 1024; the "guest" accepts. Returns
 * the host fd; *local gets the host port the device picked. */
static int host_connect(struct fixture *f, uint32_t guest_buf_alloc, uint32_t *local)
{
	struct hdr h;
	char line[64], expect[64];
	int fd = uconnect(f->uds);

	assert_int_equal(write(fd, "CONNECT 1024\n", 13), 13);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, REQUEST);
	assert_int_equal(h.dst_port, 1024);
	assert_true(h.src_port >= 1u << 30);
	assert_int_equal(h.buf_alloc, 256 * 1024);
	*local = h.src_port;
	gsend(f, RESPONSE, 1024, *local, 0, NULL, 0, guest_buf_alloc, 0);
	snprintf(expect, sizeof(expect), "OK %u\n", *local);
	assert_int_equal(hread(f, fd, line, strlen(expect)), strlen(expect));
	assert_memory_equal(line, expect, strlen(expect));
	return fd;
}

/* The host program gives up before the guest answers its CONNECT: the
 * device drops the connection and tells the guest with an RST. */
static void test_host_gives_up(void **state)
{
	struct fixture *f = *state;
	struct hdr h;
	uint32_t local;
	int fd = uconnect(f->uds);

	assert_int_equal(write(fd, "CONNECT 1024\n", 13), 13);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, REQUEST);
	local = h.src_port;
	close(fd);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RST);
	assert_int_equal(h.src_port, local);
	assert_int_equal(h.dst_port, 1024);
	/* A late answer from the guest finds nothing and is refused. */
	gsend(f, RESPONSE, 1024, local, 0, NULL, 0, 65536, 0);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RST);
}

static void test_config(void **state)
{
	struct fixture *f = *state;
	uint64_t cid;

	virtio_mmio_read(&f->v.mmio, 0x100, &cid, 8);
	assert_int_equal(cid, CID);
	assert_int_equal(vd_read32(&f->v, 0x8), VIRTIO_ID_VSOCK);
}

static void test_host_connect(void **state)
{
	struct fixture *f = *state;
	struct hdr h;
	uint32_t local;
	char buf[64];
	int fd = host_connect(f, 65536, &local);

	/* Host -> guest. */
	assert_int_equal(write(fd, "hello", 5), 5);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RW);
	assert_int_equal(h.len, 5);
	assert_int_equal(h.src_port, local);
	assert_int_equal(h.dst_port, 1024);
	assert_memory_equal(f->data, "hello", 5);
	/* Guest -> host. */
	gsend(f, RW, 1024, local, 0, "world!", 6, 65536, 5);
	assert_int_equal(hread(f, fd, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "world!", 6);
	/* The guest asks for credit: we have passed on all 6 bytes. */
	gsend(f, CREDIT_REQUEST, 1024, local, 0, NULL, 0, 65536, 5);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, 6);
	assert_int_equal(h.buf_alloc, 256 * 1024);
	/* The host program closes: the guest hears SHUTDOWN(SEND), then closes
	 * its end (SHUTDOWN both ways) and gets the final RST. */
	close(fd);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, SHUTDOWN);
	assert_int_equal(h.flags, 2);
	gsend(f, SHUTDOWN, 1024, local, 3, NULL, 0, 65536, 5);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RST);
	assert_int_equal(h.dst_port, 1024);
	/* The connection is gone: more data from the guest gets an RST. */
	gsend(f, RW, 1024, local, 0, "x", 1, 65536, 5);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RST);
}

static void test_credit(void **state)
{
	struct fixture *f = *state;
	struct hdr h;
	uint32_t local;
	char buf[40];
	int fd = host_connect(f, 16, &local);

	for (int i = 0; i < 40; i++)
		buf[i] = (char)i;
	assert_int_equal(write(fd, buf, 40), 40);
	/* The guest has room for 16 bytes. */
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RW);
	assert_int_equal(h.len, 16);
	assert_memory_equal(f->data, buf, 16);
	assert_int_equal(grecv(f, &h, 50), 0);
	/* It read them: 16 more. */
	gsend(f, CREDIT_UPDATE, 1024, local, 0, NULL, 0, 16, 16);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.len, 16);
	assert_memory_equal(f->data, buf + 16, 16);
	assert_int_equal(grecv(f, &h, 50), 0);
	/* A bigger buffer: the last 8. */
	gsend(f, CREDIT_UPDATE, 1024, local, 0, NULL, 0, 4096, 32);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.len, 8);
	assert_memory_equal(f->data, buf + 32, 8);
	/* A guest that sends more than our buf_alloc is cut off. */
	{
		static uint8_t big[256 * 1024 + 1];

		gsend(f, RW, 1024, local, 0, big, sizeof(big), 4096, 40);
	}
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RST);
	close(fd);
}

/* Bulk both ways: host -> guest split into rx-buffer-sized packets, and
 * guest -> host beyond our 256 KiB buf_alloc, paced by our credit updates. */
static void test_bulk(void **state)
{
	struct fixture *f = *state;
	static uint8_t src[300 * 1024], dst[300 * 1024];
	size_t got = 0, sent = 0;
	uint32_t local, dev_fwd = 0, updates = 0;
	struct hdr h;
	int fd = host_connect(f, 1 << 20, &local);

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 131 + (i >> 10));
	assert_int_equal(write(fd, src, 100000), 100000);
	while (got < 100000) {
		assert_int_equal(grecv(f, &h, 2000), 1);
		assert_int_equal(h.op, RW);
		assert_true(h.len > 0 && h.len <= 4096);
		assert_memory_equal(f->data, src + got, h.len);
		got += h.len;
	}
	got = 0;
	while (got < sizeof(src)) {
		ssize_t r;

		if (sent < sizeof(src) && sent + 4096 - dev_fwd <= 256 * 1024) {
			size_t n = sizeof(src) - sent < 4096 ? sizeof(src) - sent : 4096;

			gsend(f, RW, 1024, local, 0, src + sent, n, 1 << 20, 100000);
			sent += n;
		} else if (grecv(f, &h, 5)) {
			assert_int_equal(h.op, CREDIT_UPDATE);
			assert_true(h.fwd_cnt - dev_fwd < 1u << 31);
			dev_fwd = h.fwd_cnt;
			updates++;
		}
		r = recv(fd, dst + got, sizeof(dst) - got, MSG_DONTWAIT);
		if (r > 0)
			got += r;
	}
	assert_memory_equal(dst, src, sizeof(src));
	assert_true(updates >= 1);
	close(fd);
}

static void test_guest_shutdown(void **state)
{
	struct fixture *f = *state;
	struct hdr h;
	uint32_t local;
	char buf[16];
	int fd = host_connect(f, 65536, &local);

	/* Data still buffered reaches the host before it sees end of file. */
	gsend(f, RW, 1024, local, 0, "bye", 3, 65536, 0);
	gsend(f, SHUTDOWN, 1024, local, 3, NULL, 0, 65536, 0);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RST);
	assert_int_equal(hread(f, fd, buf, sizeof(buf)), 3);
	assert_int_equal(hread(f, fd, buf, sizeof(buf)), 0);
	close(fd);
}

static void test_guest_connect(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;
	struct hdr h;
	char buf[16];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_5000", f->uds);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	gsend(f, REQUEST, 3333, 5000, 0, NULL, 0, 65536, 0);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RESPONSE);
	assert_int_equal(h.src_port, 5000);
	assert_int_equal(h.dst_port, 3333);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	gsend(f, RW, 3333, 5000, 0, "ping", 4, 65536, 0);
	assert_int_equal(hread(f, fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(write(fd, "pong", 4), 4);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RW);
	assert_memory_equal(f->data, "pong", 4);
	/* The guest resets: the host sees end of file, no reply to the RST. */
	gsend(f, RST, 3333, 5000, 0, NULL, 0, 65536, 0);
	assert_int_equal(hread(f, fd, buf, sizeof(buf)), 0);
	assert_int_equal(grecv(f, &h, 50), 0);
	/* Nobody listens on port 6000. */
	gsend(f, REQUEST, 3334, 6000, 0, NULL, 0, 65536, 0);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, RST);
	assert_int_equal(h.src_port, 6000);
	assert_int_equal(h.dst_port, 3334);
	close(fd);
	close(lfd);
}

static void test_bad_connect_line(void **state)
{
	struct fixture *f = *state;
	struct hdr h;
	char buf[8];
	int fd = uconnect(f->uds);

	assert_int_equal(write(fd, "HELLO 1\n", 8), 8);
	assert_int_equal(hread(f, fd, buf, sizeof(buf)), 0);
	close(fd);
	fd = uconnect(f->uds);
	assert_int_equal(write(fd, "CONNECT 99999999999\n", 20), 20);
	assert_int_equal(hread(f, fd, buf, sizeof(buf)), 0);
	close(fd);
	assert_int_equal(grecv(f, &h, 20), 0);
}

/* The guest refuses (RST) a host connection: the host program sees EOF;
 * a driver reset closes established connections. */
static void test_refused_and_reset(void **state)
{
	struct fixture *f = *state;
	struct hdr h;
	uint32_t local;
	char buf[8];
	int fd = uconnect(f->uds), fd2;

	assert_int_equal(write(fd, "CONNECT 7\n", 10), 10);
	assert_int_equal(grecv(f, &h, 2000), 1);
	assert_int_equal(h.op, REQUEST);
	gsend(f, RST, 7, h.src_port, 0, NULL, 0, 0, 0);
	assert_int_equal(hread(f, fd, buf, sizeof(buf)), 0);
	close(fd);
	fd2 = host_connect(f, 4096, &local);
	vd_write32(&f->v, 0x70, 0);
	assert_int_equal(hread(f, fd2, buf, sizeof(buf)), 0);
	close(fd2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_host_connect, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_credit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_guest_shutdown, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_guest_connect, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_connect_line, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refused_and_reset, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_host_gives_up, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
