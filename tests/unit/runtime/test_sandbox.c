/* Unit tests for runtime/sandbox: a fake hypervisor driver whose agent
 * stream leads to the fake agent; checks the shared directory mounts, the
 * calls the agent sees and that stop leaves nothing behind. Needs root
 * (bind mounts); skipped otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "runtime/sandbox.h"
#include "runtime/spec.h"
#include "fake_agent.h"

struct hv {
	int started, stopped;
};

static struct fake_agent fake;
static int fake_fd = -1;
static struct hv fake_hv_state;
static char tmp[64];

static int fake_create(struct hv **out, const struct hv_config *cfg, struct err *e)
{
	struct stat st;

	/* the sandbox hands the driver its shared directory, already there */
	if (stat(cfg->shared_dir, &st) < 0)
		return err_sys(e, "fake: %s", cfg->shared_dir);
	memset(&fake_hv_state, 0, sizeof(fake_hv_state));
	*out = &fake_hv_state;
	return 0;
}

static int fake_start(struct hv *h, struct err *e)
{
	(void)e;
	h->started++;
	return 0;
}

static int fake_stop(struct hv *h, struct err *e)
{
	(void)e;
	h->stopped++;
	return 0;
}

static int fake_dial(struct hv *h, int timeout_ms, int *fd, struct err *e)
{
	(void)h;
	(void)timeout_ms;
	if (fake_fd < 0)
		return err_set(e, ECONNREFUSED, "fake: dialled twice");
	*fd = steal_fd(fake_fd);
	return 0;
}

static bool fake_alive(struct hv *h)
{
	return h->started && !h->stopped;
}

static void fake_free(struct hv *h)
{
	(void)h;
}

static const struct hv_ops fake_ops = {
        .name = "fake",
        .create = fake_create,
        .start = fake_start,
        .stop = fake_stop,
        .agent_dial = fake_dial,
        .alive = fake_alive,
        .free = fake_free,
};

static bool mounted_under(const char *dir)
{
	char *buf = NULL;
	size_t len;
	struct err e;
	bool found;

	if (util_read_file("/proc/self/mountinfo", 1 << 20, &buf, &len, &e) < 0)
		return true;
	found = strstr(buf, dir) != NULL;
	free(buf);
	return found;
}

static int setup(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof(fake));
	fake.exit_status = 0;
	fake_fd = fake_agent_start(&fake);
	strcpy(tmp, "/tmp/hako-test-sandbox.XXXXXX");
	return fake_fd >= 0 && mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	if (fake_fd >= 0)
		close(steal_fd(fake_fd));
	fake_agent_stop(&fake);
	return util_rm_rf(tmp, &e);
}

static void test_lifecycle(void **state)
{
	char root[128], state_root[128], run_dir[160], path[1024];
	struct sandbox_config cfg = {0};
	struct sandbox *s = NULL;
	Grpc__Spec *spec;
	struct err e;
	int fd;

	(void)state;
	snprintf(root, sizeof(root), "%s/rootfs", tmp);
	snprintf(state_root, sizeof(state_root), "%s/state", tmp);
	snprintf(path, sizeof(path), "%s/rootfs/etc", tmp);
	assert_int_equal(util_mkdir_p(path, 0755, &e), 0);
	snprintf(path, sizeof(path), "%s/rootfs/etc/hostname", tmp);
	assert_int_equal(util_write_file(path, "box\n", 4, 0644, &e), 0);

	cfg.id = "sb1";
	snprintf(run_dir, sizeof(run_dir), "%s/sb1", state_root);
	assert_int_equal(util_mkdir_p(state_root, 0700, &e), 0);
	cfg.run_dir = run_dir;
	cfg.ops = &fake_ops;
	cfg.hv.vcpus = 1;
	cfg.hv.memory_mib = 128;
	assert_int_equal(sandbox_start(&s, &cfg, &e), 0);
	assert_string_equal(fake.sandbox_id, "sb1");
	assert_string_equal(fake.storage, "virtio-fs hako virtiofs " SANDBOX_GUEST_SHARED);

	spec = calloc(1, sizeof(*spec));
	grpc__spec__init(spec);
	assert_int_equal(sandbox_create_container(s, "c1", root, true, spec, &e), 0);
	assert_string_equal(fake.created, "c1");
	assert_string_equal(fake.root, SANDBOX_GUEST_SHARED "/c1/rootfs");
	assert_true(fake.root_readonly);
	/* the root is visible under the shared directory, read-only */
	snprintf(path, sizeof(path), "%s/sb1/shared/c1/rootfs/etc/hostname", state_root);
	assert_int_equal(access(path, R_OK), 0);
	fd = open(path, O_WRONLY);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EROFS);

	assert_int_equal(sandbox_create_container(s, "c1", root, false, spec, &e), -1);
	assert_int_equal(e.errnum, EEXIST);
	assert_int_equal(sandbox_create_container(s, "../x", root, false, spec, &e), -1);
	assert_int_equal(e.errnum, EINVAL);
	/* the agent refuses: the root is unshared again */
	assert_int_equal(sandbox_create_container(s, "refused", root, false, spec, &e), -1);
	snprintf(path, sizeof(path), "%s/sb1/shared/refused", state_root);
	assert_int_equal(access(path, F_OK), -1);

	assert_int_equal(sandbox_start_container(s, "c1", &e), 0);
	assert_string_equal(fake.started, "c1");
	assert_int_equal(sandbox_start_container(s, "c2", &e), -1);
	assert_int_equal(sandbox_remove_container(s, "c1", 1, &e), 0);
	assert_string_equal(fake.removed, "c1");
	snprintf(path, sizeof(path), "%s/sb1/shared/c1", state_root);
	assert_int_equal(access(path, F_OK), -1);

	/* one left for stop to clean up, with host binds to share */
	spec_free(spec);
	snprintf(path, sizeof(path),
	         "{\"mounts\": [{\"destination\": \"/etc/hostname\", \"type\": \"bind\","
	         " \"source\": \"%s/rootfs/etc/hostname\", \"options\": [\"rbind\", \"ro\"]},"
	         " {\"destination\": \"/data\", \"type\": \"none\", \"source\": \"%s/rootfs\","
	         " \"options\": [\"bind\"]},"
	         " {\"destination\": \"/dev/shm\", \"type\": \"bind\", \"source\": \"/x\"},"
	         " {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}]}",
	         tmp, tmp);
	assert_int_equal(spec_from_json(path, &spec, &e), 0);
	assert_int_equal(sandbox_create_container(s, "c3", root, false, spec, &e), 0);
	spec_free(spec);
	assert_string_equal(fake.mounts, "/etc/hostname bind " SANDBOX_GUEST_SHARED "/c3/mounts/0;"
	                                 "/data none " SANDBOX_GUEST_SHARED "/c3/mounts/1;"
	                                 "/dev/shm tmpfs shm;/proc proc proc;");
	snprintf(path, sizeof(path), "%s/sb1/shared/c3/mounts/0", state_root);
	fd = open(path, O_WRONLY);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EROFS);
	snprintf(path, sizeof(path), "%s/sb1/shared/c3/mounts/1/etc/hostname", state_root);
	assert_int_equal(access(path, R_OK), 0);
	/* a bind whose source is missing fails, and unshares what it shared */
	assert_int_equal(spec_from_json("{\"mounts\": [{\"destination\": \"/a\","
	                                " \"type\": \"bind\", \"source\": \"/nonexistent\"}]}",
	                                &spec, &e),
	                 0);
	assert_int_equal(sandbox_create_container(s, "c4", root, false, spec, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent"));
	spec_free(spec);
	snprintf(path, sizeof(path), "%s/sb1/shared/c4", state_root);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(sandbox_stop(s, &e), 0);
	assert_true(fake.destroyed);
	assert_int_equal(fake_hv_state.stopped, 1);
	assert_false(mounted_under(state_root));
	snprintf(path, sizeof(path), "%s/sb1", state_root);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(sandbox_stop(s, &e), 0);
	sandbox_free(s);
	/* the user's rootfs is untouched */
	snprintf(path, sizeof(path), "%s/rootfs/etc/hostname", tmp);
	assert_int_equal(access(path, R_OK), 0);
}

static void test_start_failure_leaves_nothing(void **state)
{
	char state_root[128], path[160];
	struct sandbox_config cfg = {0};
	struct sandbox *s = NULL;
	struct err e;

	(void)state;
	snprintf(state_root, sizeof(state_root), "%s/state", tmp);
	close(steal_fd(fake_fd)); /* the agent stream breaks at once */
	cfg.id = "sb2";
	snprintf(path, sizeof(path), "%s/sb2", state_root);
	assert_int_equal(util_mkdir_p(state_root, 0700, &e), 0);
	cfg.run_dir = path;
	cfg.ops = &fake_ops;
	cfg.hv.vcpus = 1;
	cfg.hv.memory_mib = 128;
	cfg.agent_timeout_ms = 300;
	assert_int_equal(sandbox_start(&s, &cfg, &e), -1);
	assert_null(s);
	assert_non_null(strstr(e.msg, "sandbox sb2"));
	assert_int_equal(fake_hv_state.stopped, 1);
	assert_false(mounted_under(state_root));
	assert_int_equal(access(path, F_OK), -1);
	/* the run directory exists already: not ours, kept */
	assert_int_equal(mkdir(path, 0700), 0);
	cfg.id = "sb3";
	assert_int_equal(sandbox_start(&s, &cfg, &e), -1);
	assert_int_equal(e.errnum, EEXIST);
	assert_int_equal(access(path, F_OK), 0);
	/* an id that names no directory */
	cfg.id = "a/b";
	assert_int_equal(sandbox_start(&s, &cfg, &e), -1);
	assert_int_equal(e.errnum, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_start_failure_leaves_nothing, setup, teardown),
	};
	if (geteuid() != 0) {
		printf("SKIP: needs root for bind mounts\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
