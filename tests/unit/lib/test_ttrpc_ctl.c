/* Tests of hako-agent-ctl against an in-process ttrpc server: JSON request
 * in, JSON response out, error statuses as "CODE: message", --spec.
 * argv[1]: the hako-agent-ctl binary, argv[2]: the folder of
 * test_pbjson_config.json. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/agent.pb-c.h"
#include "proto/empty.pb-c.h"
#include "proto/health.pb-c.h"

static const char *ctl = "hako-agent-ctl", *data_dir = ".";
static char dir[64], sock[96];
static struct loop *loop;
static struct ttrpc_server *server;
static pthread_t thread;

static void h_check(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;

	(void)p, (void)len, (void)opaque;
	resp.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	ttrpc_call_reply_msg(call, &resp.base);
}

static void h_wait(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	Grpc__WaitProcessRequest *req = grpc__wait_process_request__unpack(NULL, len, p);
	Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;

	(void)opaque;
	if (!req || strcmp(req->container_id, "c1")) {
		ttrpc_call_error(call, TTRPC_NOT_FOUND, "container %s not found",
		                 req ? req->container_id : "?");
	} else {
		resp.status = 7;
		ttrpc_call_reply_msg(call, &resp.base);
	}
	if (req)
		grpc__wait_process_request__free_unpacked(req, NULL);
}

static void h_create(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	Grpc__CreateContainerRequest *req = grpc__create_container_request__unpack(NULL, len, p);
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	(void)opaque;
	if (req && req->oci && !strcmp(req->oci->hostname, "box") &&
	    !strcmp(req->container_id, "c2") && req->oci->process->user->uid == 1000)
		ttrpc_call_reply_msg(call, &empty.base);
	else
		ttrpc_call_error(call, TTRPC_INVALID_ARGUMENT, "bad spec");
	if (req)
		grpc__create_container_request__free_unpacked(req, NULL);
}

static const struct ttrpc_method methods[] = {
        {"grpc.Health", "Check", h_check},
        {"grpc.AgentService", "WaitProcess", h_wait},
        {"grpc.AgentService", "CreateContainer", h_create},
};

static void *loop_thread(void *arg)
{
	struct err e;

	(void)arg;
	assert_int_equal(loop_run(loop, &e), 0);
	return NULL;
}

static int setup(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct err e;
	int fd;

	(void)state;
	strcpy(dir, "/tmp/hako-test-ctl.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		return -1;
	if (loop_new(&loop, &e) < 0 ||
	    ttrpc_server_new(&server, loop, methods, ARRAY_SIZE(methods), NULL, &e) < 0 ||
	    ttrpc_server_listen(server, fd, &e) < 0)
		return -1;
	return pthread_create(&thread, NULL, loop_thread, NULL);
}

static int teardown(void **state)
{
	(void)state;
	loop_stop(loop);
	pthread_join(thread, NULL);
	ttrpc_server_free(server);
	loop_free(loop);
	unlink(sock);
	return rmdir(dir);
}

/* Run hako-agent-ctl with args (shell words); output (stdout + stderr). */
static int run_ctl(const char *args, char *out, size_t size)
{
	char cmd[1024];
	size_t n = 0;
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "%s --addr unix:%s %s 2>&1", ctl, sock, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, size - 1, p);
	out[n] = 0;
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_ctl(void **state)
{
	char out[4096], args[512];

	(void)state;
	assert_int_equal(run_ctl("Check", out, sizeof(out)), 0);
	assert_string_equal(out, "{\"status\":\"SERVING\"}\n");
	assert_int_equal(run_ctl("WaitProcess '{\"container_id\":\"c1\",\"exec_id\":\"c1\"}'", out,
	                         sizeof(out)),
	                 0);
	assert_string_equal(out, "{\"status\":7}\n");
	assert_int_equal(run_ctl("WaitProcess '{\"container_id\":\"zz\"}'", out, sizeof(out)), 1);
	assert_string_equal(out, "NOT_FOUND: container zz not found\n");
	assert_int_equal(run_ctl("Version", out, sizeof(out)), 1);
	assert_string_equal(out, "UNIMPLEMENTED: method grpc.Health/Version not implemented\n");
	snprintf(args, sizeof(args),
	         "--spec %s/test_pbjson_config.json CreateContainer "
	         "'{\"container_id\":\"c2\"}'",
	         data_dir);
	assert_int_equal(run_ctl(args, out, sizeof(out)), 0);
	assert_string_equal(out, "{}\n");
	assert_int_equal(run_ctl("NoSuchMethod", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "unknown method 'NoSuchMethod'"));
	assert_int_equal(run_ctl("WaitProcess '{\"container_id\":5}'", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "container_id: expected a string"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_ctl, setup, teardown),
	};

	if (argc > 2) {
		ctl = argv[1];
		data_dir = argv[2];
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
