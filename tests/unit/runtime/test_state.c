/* Unit tests for runtime/state: round trip, ids, listing, removal, the lock
 * excluding a second process, and a dead owner reading as stopped. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "runtime/state.h"

static char root[64];

static int setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/hako-test-state.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	return util_rm_rf(root, &e);
}

static void fill(struct state *s, char *id)
{
	static char created[64];

	memset(s, 0, sizeof(*s));
	state_now_rfc3339(created, sizeof(created));
	s->id = id;
	s->owner_pid = getpid();
	s->owner_start = state_proc_start(getpid());
	s->monitor_pid = 4242;
	s->pid = 77;
	s->status = STATE_RUNNING;
	s->bundle = "/b";
	s->rootfs = "/b/rootfs";
	s->created = created;
	s->hypervisor = "qemu";
	s->sandbox_id = "sb1";
}

static void test_round_trip(void **state)
{
	struct state s, *got;
	int lock;
	struct err e;

	(void)state;
	fill(&s, "c1");
	assert_int_equal(
	        state_set_annotation(&s, "io.kubernetes.cri.container-type", "sandbox", &e), 0);
	assert_int_equal(state_set_annotation(&s, "k", "v1", &e), 0);
	assert_int_equal(state_set_annotation(&s, "k", "v2", &e), 0);
	assert_int_equal(state_create(root, &s, &lock, &e), 0);
	state_unlock(lock);
	for (size_t i = 0; i < s.nr_annotations; i++) {
		free(s.annotations[i].key);
		free(s.annotations[i].value);
	}
	free(s.annotations);

	assert_int_equal(state_load(root, "c1", &got, &e), 0);
	assert_string_equal(got->id, "c1");
	assert_int_equal(got->owner_pid, getpid());
	assert_true(got->owner_start > 0);
	assert_int_equal(got->monitor_pid, 4242);
	assert_int_equal(got->pid, 77);
	assert_int_equal(got->status, STATE_RUNNING);
	assert_string_equal(got->bundle, "/b");
	assert_string_equal(got->rootfs, "/b/rootfs");
	assert_int_equal(strlen(got->created), strlen("2026-11-29T01:02:03.123456789Z"));
	assert_int_equal(got->created[strlen(got->created) - 1], 'Z');
	assert_string_equal(got->hypervisor, "qemu");
	assert_string_equal(got->sandbox_id, "sb1");
	assert_int_equal(got->nr_annotations, 2);
	assert_string_equal(state_annotation(got, "k"), "v2");
	assert_string_equal(state_annotation(got, "io.kubernetes.cri.container-type"), "sandbox");
	assert_null(state_annotation(got, "nope"));

	/* Update under the lock. */
	assert_int_equal(state_lock(root, "c1", &lock, &e), 0);
	got->status = STATE_PAUSED;
	assert_int_equal(state_save(root, got, &e), 0);
	state_unlock(lock);
	state_free(got);
	assert_int_equal(state_load(root, "c1", &got, &e), 0);
	assert_int_equal(got->status, STATE_PAUSED);
	state_free(got);
}

static void test_ids_and_errors(void **state)
{
	struct state s, *got;
	int lock;
	struct err e;

	(void)state;
	assert_int_equal(state_check_id("abc-1.2_x+y", &e), 0);
	assert_int_equal(state_check_id("", &e), -1);
	assert_int_equal(state_check_id("..", &e), -1);
	assert_int_equal(state_check_id("a/b", &e), -1);
	assert_int_equal(state_check_id("a b", &e), -1);

	assert_int_equal(state_load(root, "nope", &got, &e), -1);
	assert_int_equal(e.errnum, ENOENT);
	assert_string_equal(e.msg, "container nope does not exist");
	assert_int_equal(state_lock(root, "nope", &lock, &e), -1);
	assert_int_equal(e.errnum, ENOENT);
	assert_int_equal(state_load(root, "../etc", &got, &e), -1);
	assert_int_equal(e.errnum, EINVAL);

	fill(&s, "dup");
	assert_int_equal(state_create(root, &s, &lock, &e), 0);
	state_unlock(lock);
	assert_int_equal(state_create(root, &s, &lock, &e), -1);
	assert_int_equal(e.errnum, EEXIST);
	assert_non_null(strstr(e.msg, "already exists"));
}

static void test_list_and_remove(void **state)
{
	static char *ids[] = {"b", "a", "c"};
	char **list, path[128];
	struct state s;
	int lock;
	struct err e;

	(void)state;
	assert_int_equal(state_list(root, &list, &e), 0);
	assert_null(list[0]);
	state_list_free(list);
	for (size_t i = 0; i < 3; i++) {
		fill(&s, ids[i]);
		assert_int_equal(state_create(root, &s, &lock, &e), 0);
		state_unlock(lock);
	}
	/* A stray directory without state.json is not a container. */
	snprintf(path, sizeof(path), "%s/stray", root);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(state_list(root, &list, &e), 0);
	assert_string_equal(list[0], "a");
	assert_string_equal(list[1], "b");
	assert_string_equal(list[2], "c");
	assert_null(list[3]);
	state_list_free(list);

	assert_int_equal(state_remove(root, "b", &e), 0);
	assert_int_equal(state_list(root, &list, &e), 0);
	assert_string_equal(list[1], "c");
	assert_null(list[2]);
	state_list_free(list);

	/* A missing root lists nothing. */
	assert_int_equal(state_list("/nonexistent/hako", &list, &e), 0);
	assert_null(list[0]);
	state_list_free(list);
}

static void test_lock_excludes_other_process(void **state)
{
	char path[128];
	struct state s;
	int lock, status;
	pid_t child;
	struct err e;

	(void)state;
	fill(&s, "locked");
	assert_int_equal(state_create(root, &s, &lock, &e), 0);
	snprintf(path, sizeof(path), "%s/locked/lock", root);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd = open(path, O_RDWR);

		/* Held by the parent: a non-blocking attempt must fail. */
		_exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	state_unlock(lock);

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd;
		struct err ce;

		/* Free now: state_lock succeeds and holds it until exit. */
		_exit(state_lock(root, "locked", &fd, &ce) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* A caller blocked on the lock while the holder deletes the container
	 * (and another with the same id appears) must not get a lock on it. */
	assert_int_equal(state_lock(root, "locked", &lock, &e), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd;
		struct err ce;

		/* The inherited copy of the parent's lock would keep it held. */
		close(lock);
		alarm(10);
		_exit(state_lock(root, "locked", &fd, &ce) < 0 && ce.errnum == ENOENT ? 0 : 1);
	}
	usleep(200 * 1000);
	assert_int_equal(state_remove(root, "locked", &e), 0);
	{
		int lock2;

		assert_int_equal(state_create(root, &s, &lock2, &e), 0);
		state_unlock(lock2);
	}
	state_unlock(lock);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_dead_owner_reads_stopped(void **state)
{
	struct state s, *got;
	int lock, status;
	pid_t child;
	struct err e;

	(void)state;
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, &status, 0), child);
	fill(&s, "orphan");
	s.owner_pid = child; /* reaped: no such process any more */
	s.owner_start = 1;
	assert_int_equal(state_create(root, &s, &lock, &e), 0);
	state_unlock(lock);
	assert_int_equal(state_load(root, "orphan", &got, &e), 0);
	assert_int_equal(got->status, STATE_STOPPED);
	state_free(got);

	/* Exited but not reaped (a zombie): gone too. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	fill(&s, "zombie");
	s.owner_pid = child;
	s.owner_start = state_proc_start(child);
	{
		siginfo_t si;

		/* Wait for the exit but leave the child unreaped. */
		assert_int_equal(waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT), 0);
	}
	assert_int_equal(state_create(root, &s, &lock, &e), 0);
	state_unlock(lock);
	assert_int_equal(state_load(root, "zombie", &got, &e), 0);
	assert_int_equal(got->status, STATE_STOPPED);
	state_free(got);
	assert_int_equal(waitpid(child, &status, 0), child);

	/* Same pid as a live process but another start time: pid reuse. */
	fill(&s, "reused");
	s.owner_start = state_proc_start(getpid()) + 1;
	assert_int_equal(state_create(root, &s, &lock, &e), 0);
	state_unlock(lock);
	assert_int_equal(state_load(root, "reused", &got, &e), 0);
	assert_int_equal(got->status, STATE_STOPPED);
	state_free(got);

	/* A live owner keeps the recorded status. */
	fill(&s, "alive");
	assert_int_equal(state_create(root, &s, &lock, &e), 0);
	state_unlock(lock);
	assert_int_equal(state_load(root, "alive", &got, &e), 0);
	assert_int_equal(got->status, STATE_RUNNING);
	state_free(got);
}

static void test_status_names(void **state)
{
	enum state_status st;

	(void)state;
	assert_string_equal(state_status_name(STATE_CREATED), "created");
	assert_string_equal(state_status_name(STATE_STOPPED), "stopped");
	assert_int_equal(state_status_parse("paused", &st), 0);
	assert_int_equal(st, STATE_PAUSED);
	assert_int_equal(state_status_parse("zombie", &st), -1);
}

static void test_corrupt_file(void **state)
{
	char path[128];
	struct state *got;
	struct err e;

	(void)state;
	snprintf(path, sizeof(path), "%s/bad", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/bad/state.json", root);
	assert_int_equal(util_write_file(path, "{\"id\":", 6, 0600, &e), 0);
	assert_int_equal(state_load(root, "bad", &got, &e), -1);
	assert_non_null(strstr(e.msg, "not a JSON object"));
	assert_int_equal(
	        util_write_file(path, "{\"id\":\"bad\",\"status\":\"zombie\"}", 30, 0600, &e), 0);
	assert_int_equal(state_load(root, "bad", &got, &e), -1);
	assert_non_null(strstr(e.msg, "unknown status 'zombie'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ids_and_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_list_and_remove, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lock_excludes_other_process, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dead_owner_reads_stopped, setup, teardown),
	        cmocka_unit_test(test_status_names),
	        cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
