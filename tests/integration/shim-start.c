/* tests/integration/shim-start.c: containerd-shim-hako-v2's start protocol
 * without containerd or a VM: `start` daemonizes a server and prints the
 * address containerd 1.6 derives (also in <bundle>/address); a pod's second
 * container gets the same shim; the server answers Connect, unknown ids
 * (NotFound), Checkpoint ("not supported") and Shutdown (it exits and
 * removes its socket); `delete` prints a DeleteResponse. Root (the socket
 * lives in /run/containerd/s); exits 77 otherwise.
 * Usage: shim-start PATH/TO/containerd-shim-hako-v2 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/containerd/shim.pb-c.h"
#include "proto/empty.pb-c.h"
#include "shim/shim.h"

#define TASK "containerd.task.v2.Task"

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("ok: ");                                                            \
		} else {                                                                           \
			printf("FAIL: ");                                                          \
			failures++;                                                                \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
	} while (0)

/* Run the shim in dir with args; its stdout into out (NUL-terminated;
 * *len bytes). Returns the exit status. */
static int run_shim(const char *shim, const char *dir, char *const args[], char *out, size_t size,
                    size_t *len)
{
	char *argv[16];
	int p[2], status;
	size_t n = 0, i = 0;
	ssize_t r;
	pid_t pid;

	argv[i++] = (char *)shim;
	for (; args[i - 1] && i < 15; i++)
		argv[i] = args[i - 1];
	argv[i] = NULL;
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		close(p[1]);
		if (chdir(dir) < 0)
			_exit(126);
		unsetenv("TTRPC_ADDRESS");
		execv(shim, argv);
		_exit(127);
	}
	close(p[1]);
	while (n + 1 < size && (r = read(p[0], out + n, size - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	if (len)
		*len = n;
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_bundle(const char *dir, const char *type, const char *pod)
{
	char path[256], json[512];
	struct err e;

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	snprintf(json, sizeof(json),
	         "{\"ociVersion\": \"1.0.2\", \"annotations\": {"
	         "\"io.kubernetes.cri.container-type\": \"%s\","
	         " \"io.kubernetes.cri.sandbox-id\": \"%s\"}}",
	         type, pod);
	if (util_write_file(path, json, strlen(json), 0644, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		exit(1);
	}
}

static int dial(const char *path, struct ttrpc_client **c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct err e;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return ttrpc_client_new(c, fd, &e);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/hako-shim-start.XXXXXX", b1[64], b2[64], addr_sock[96];
	char pod[32], ctr[32], out1[256], out2[256], file[256], expect[SHIM_ADDRESS_MAX];
	char *start1[] = {"-namespace", "hako-test", "-address", addr_sock,
	                  "-id",        pod,         "start",    NULL};
	char *start2[] = {"-namespace", "hako-test", "-address", addr_sock,
	                  "-id",        ctr,         "start",    NULL};
	char *del[] = {"-namespace", "hako-test", "-address", addr_sock, "-id",
	               pod,          "-bundle",   b1,         "delete",  NULL};
	Containerd__Task__V2__ConnectRequest creq = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	Containerd__Task__V2__StateRequest sreq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	Containerd__Task__V2__CheckpointTaskRequest cpreq =
	        CONTAINERD__TASK__V2__CHECKPOINT_TASK_REQUEST__INIT;
	Containerd__Task__V2__ShutdownRequest shreq = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
	Containerd__Task__V2__ConnectResponse *cresp = NULL;
	Containerd__Task__V2__DeleteResponse *dresp;
	ProtobufCMessage *resp = NULL;
	struct ttrpc_client *c = NULL;
	const char *sock;
	char *text = NULL, *shim;
	pid_t shim_pid = 0;
	size_t len;
	struct err e;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: shim-start SHIM\n");
		return 2;
	}
	shim = realpath(argv[1], NULL);
	if (!shim) {
		perror(argv[1]);
		return 1;
	}
	if (geteuid() != 0) {
		printf("SKIP: needs root (the socket lives in %s)\n", SHIM_SOCKET_DIR);
		return 77;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(b1, sizeof(b1), "%s/b1", dir);
	snprintf(b2, sizeof(b2), "%s/b2", dir);
	snprintf(addr_sock, sizeof(addr_sock), "%s/c.sock", dir);
	snprintf(pod, sizeof(pod), "pod-%d", (int)getpid());
	snprintf(ctr, sizeof(ctr), "ctr-%d", (int)getpid());
	write_bundle(b1, "sandbox", pod);
	write_bundle(b2, "container", pod);
	if (shim_socket_address(addr_sock, "hako-test", pod, expect, sizeof(expect), &e) < 0)
		return 1;
	sock = expect + strlen("unix://");

	rc = run_shim(shim, b1, start1, out1, sizeof(out1), NULL);
	CHECK(rc == 0 && !strcmp(out1, expect), "start prints containerd's address (rc %d, '%s')",
	      rc, out1);
	snprintf(file, sizeof(file), "%s/address", b1);
	CHECK(util_read_file(file, 256, &text, NULL, &e) == 0 && !strcmp(text, expect),
	      "start writes <bundle>/address");
	free(text);
	text = NULL;

	rc = run_shim(shim, b2, start2, out2, sizeof(out2), NULL);
	CHECK(rc == 0 && !strcmp(out2, out1), "the pod's second container reuses its shim ('%s')",
	      out2);

	CHECK(dial(sock, &c) == 0, "the shim serves %s", sock);
	if (!c)
		goto out;
	creq.id = pod;
	rc = ttrpc_client_call(c, TASK, "Connect", &creq.base,
	                       &containerd__task__v2__connect_response__descriptor,
	                       (ProtobufCMessage **)&cresp, 5000, &e);
	CHECK(rc == 0 && cresp->shim_pid > 0 && !strcmp(cresp->version, HAKO_VERSION),
	      "Connect answers the shim's pid and version");
	if (rc == 0) {
		shim_pid = (pid_t)cresp->shim_pid;
		protobuf_c_message_free_unpacked(&cresp->base, NULL);
	}
	sreq.id = "nope";
	rc = ttrpc_client_call(c, TASK, "State", &sreq.base,
	                       &containerd__task__v2__state_response__descriptor, &resp, 5000, &e);
	CHECK(rc == TTRPC_NOT_FOUND, "State of an unknown id is NotFound (%d: %s)", rc,
	      rc ? e.msg : "");
	cpreq.id = pod;
	rc = ttrpc_client_call(c, TASK, "Checkpoint", &cpreq.base,
	                       &google__protobuf__empty__descriptor, &resp, 5000, &e);
	CHECK(rc == TTRPC_UNIMPLEMENTED && strstr(e.msg, "not supported: checkpoint"),
	      "Checkpoint is not supported (%d: %s)", rc, rc ? e.msg : "");
	shreq.id = pod;
	rc = ttrpc_client_call(c, TASK, "Shutdown", &shreq.base,
	                       &google__protobuf__empty__descriptor, &resp, 5000, &e);
	CHECK(rc == 0, "Shutdown answers (%d)", rc);
	if (rc == 0)
		protobuf_c_message_free_unpacked(resp, NULL);
	for (int i = 0; i < 100 && shim_pid > 0 && kill(shim_pid, 0) == 0; i++)
		usleep(50000);
	CHECK(shim_pid > 0 && kill(shim_pid, 0) < 0, "the shim exited after Shutdown");
	CHECK(access(sock, F_OK) < 0, "its socket is gone");

	rc = run_shim(shim, b1, del, out1, sizeof(out1), &len);
	dresp = containerd__task__v2__delete_response__unpack(NULL, len, (uint8_t *)out1);
	CHECK(rc == 0 && dresp && dresp->exit_status == 137 && dresp->exited_at,
	      "delete prints a DeleteResponse (rc %d)", rc);
	if (dresp)
		containerd__task__v2__delete_response__free_unpacked(dresp, NULL);
out:
	ttrpc_client_free(c);
	if (shim_pid > 0 && kill(shim_pid, 0) == 0)
		kill(shim_pid, SIGKILL);
	unlink(sock);
	util_rm_rf(dir, &e);
	free(shim);
	printf(failures ? "%d check(s) failed\n" : "all checks passed\n", failures);
	return failures ? 1 : 0;
}
