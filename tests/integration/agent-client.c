/* tests/integration/agent-client.c: drives a hako-agent through a container
 * lifecycle over ttrpc and checks every answer. Works against a host-mode
 * agent (unix:PATH) or one inside a VM (hvsock:UDS:1024, unix:PATH of a
 * virtio-serial socket); see tests/integration/agent-host.sh.
 *
 *   agent-client --addr ADDR --rootfs DIR [--cgroup-root /sys/fs/cgroup]
 *                [--cgroup-prefix /hako-test] [--agent-pid PID]
 *
 * DIR is the busybox rootfs as the agent sees it. --cgroup-root turns on
 * checks that read the container's cgroup files directly (the agent runs on
 * this machine); --agent-pid checks that the agent holds no more fds at the
 * end than after its first answer. Prints TAP lines; exit 0 when all pass. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/hvsock.h"
#include "lib/pbjson.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/agent.pb-c.h"
#include "proto/empty.pb-c.h"
#include "proto/health.pb-c.h"

#define AGENT      "grpc.AgentService"
#define HEALTH     "grpc.Health"
#define TIMEOUT_MS 60000

static struct {
	struct ttrpc_client *c;
	const char *rootfs;
	const char *cgroup_root;
	const char *prefix;
	int agent_pid;
	int v1; /* cgroup v1 layout under cgroup_root */
	int n, failed;
} t = {.prefix = "/hako-test"};

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++t.n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		t.failed++;
}

/* Call; returns the status code (0 OK, >0 gRPC code, -1 transport) and
 * keeps the error text in *msg. */
static int call(const char *svc, const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp, char *msg)
{
	struct err e = {0};
	ProtobufCMessage *r = NULL;
	int rc = ttrpc_client_call(t.c, svc, method, req,
	                           rd ? rd : &google__protobuf__empty__descriptor, &r, TIMEOUT_MS,
	                           &e);

	if (msg)
		snprintf(msg, ERR_MSG_MAX, "%s", e.msg);
	if (rc == 0 && resp)
		*resp = r;
	else if (r)
		protobuf_c_message_free_unpacked(r, NULL);
	if (rc != 0)
		fprintf(stderr, "# %s: %s (%d)\n", method, e.msg, rc);
	return rc;
}

static int call_ok(const char *method, const ProtobufCMessage *req)
{
	return call(AGENT, method, req, NULL, NULL, NULL);
}

static char *spec_json(const char *id, const char *args_json, const char *resources, int tty)
{
	char *s = NULL;
	int n = asprintf(
	        &s,
	        "{\"ociVersion\":\"1.1.0\","
	        "\"process\":{\"terminal\":%s,\"user\":{\"uid\":0,\"gid\":0},\"args\":%s,"
	        " \"env\":[\"PATH=/bin:/sbin:/usr/bin\",\"HOME=/\",\"TERM=xterm\"],\"cwd\":\"/\","
	        " \"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_SETUID\","
	        "\"CAP_SETGID\",\"CAP_DAC_OVERRIDE\",\"CAP_SYS_ADMIN\"],"
	        "  \"effective\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_SETUID\",\"CAP_SETGID\","
	        "\"CAP_DAC_OVERRIDE\",\"CAP_SYS_ADMIN\"],"
	        "  \"permitted\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_SETUID\",\"CAP_SETGID\","
	        "\"CAP_DAC_OVERRIDE\",\"CAP_SYS_ADMIN\"]},"
	        " \"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
	        " \"noNewPrivileges\":true},"
	        "\"root\":{\"path\":\"%s\",\"readonly\":false},"
	        "\"hostname\":\"%s\","
	        "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	        " {\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
	        "  \"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
	        " {\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
	        "  \"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\","
	        "\"mode=0620\"]},"
	        " {\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
	        "  \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
	        " {\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
	        "  \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}],"
	        "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":"
	        "\"uts\"},"
	        " {\"type\":\"mount\"},{\"type\":\"network\"}],"
	        " \"cgroupsPath\":\"%s/%s\","
	        " \"resources\":%s,"
	        " \"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\"],"
	        " \"readonlyPaths\":[\"/proc/sys\",\"/proc/sysrq-trigger\"],"
	        " \"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	        "  \"architectures\":[\"SCMP_ARCH_X86_64\"],"
	        "  \"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\","
	        "   \"errnoRet\":1}]}}}",
	        tty ? "true" : "false", args_json, t.rootfs, id, t.prefix, id,
	        resources ? resources : "{}");

	return n < 0 ? NULL : s;
}

static Grpc__Spec *make_spec(const char *id, const char *args_json, const char *resources, int tty)
{
	char *json = spec_json(id, args_json, resources, tty);
	ProtobufCMessage *m = NULL;
	struct err e = {0};

	if (!json || pbjson_from_string(&grpc__spec__descriptor, json, PBJSON_OCI, &m, &e) < 0) {
		fprintf(stderr, "# spec for %s: %s\n", id, e.msg);
		free(json);
		return NULL;
	}
	free(json);
	return (Grpc__Spec *)m;
}

static int create(const char *id, const char *args_json, const char *resources, char *msg)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	int rc;

	req.container_id = (char *)id;
	req.exec_id = (char *)id;
	req.oci = make_spec(id, args_json, resources, 0);
	if (!req.oci)
		return -1;
	rc = call(AGENT, "CreateContainer", &req.base, NULL, NULL, msg);
	protobuf_c_message_free_unpacked(&req.oci->base, NULL);
	return rc;
}

static int simple(const char *method, const char *id)
{
	/* Start/Remove/Pause/Resume/Stats requests share the layout
	 * {string container_id = 1}: use StartContainerRequest's. */
	Grpc__StartContainerRequest req = GRPC__START_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	return call_ok(method, &req.base);
}

/* ReadStdout/ReadStderr until EOF (an empty answer); NULL on error. */
static char *read_all(const char *method, const char *id, const char *exec)
{
	char *out = calloc(1, 1);
	size_t len = 0;

	for (;;) {
		Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
		Grpc__ReadStreamResponse *resp = NULL;
		char *n;

		req.container_id = (char *)id;
		req.exec_id = (char *)exec;
		req.len = 4096;
		if (call(AGENT, method, &req.base, &grpc__read_stream_response__descriptor,
		         (ProtobufCMessage **)&resp, NULL) != 0) {
			free(out);
			return NULL;
		}
		if (resp->data.len == 0) {
			protobuf_c_message_free_unpacked(&resp->base, NULL);
			return out;
		}
		n = realloc(out, len + resp->data.len + 1);
		if (!n) {
			protobuf_c_message_free_unpacked(&resp->base, NULL);
			free(out);
			return NULL;
		}
		out = n;
		memcpy(out + len, resp->data.data, resp->data.len);
		len += resp->data.len;
		out[len] = '\0';
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
}

static int wait_status(const char *id, const char *exec)
{
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;
	Grpc__WaitProcessResponse *resp = NULL;
	int st;

	req.container_id = (char *)id;
	req.exec_id = (char *)exec;
	if (call(AGENT, "WaitProcess", &req.base, &grpc__wait_process_response__descriptor,
	         (ProtobufCMessage **)&resp, NULL) != 0)
		return -1000;
	st = resp->status;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return st;
}

static int exec_proc(const char *id, const char *exec, const char *args_json, int tty)
{
	Grpc__ExecProcessRequest req = GRPC__EXEC_PROCESS_REQUEST__INIT;
	Grpc__Spec *spec = make_spec(id, args_json, NULL, tty);
	int rc;

	if (!spec)
		return -1;
	req.container_id = (char *)id;
	req.exec_id = (char *)exec;
	req.process = spec->process;
	rc = call_ok("ExecProcess", &req.base);
	protobuf_c_message_free_unpacked(&spec->base, NULL);
	return rc;
}

static int signal_proc(const char *id, const char *exec, int sig)
{
	Grpc__SignalProcessRequest req = GRPC__SIGNAL_PROCESS_REQUEST__INIT;

	req.container_id = (char *)id;
	req.exec_id = (char *)exec;
	req.signal = (uint32_t)sig;
	return call_ok("SignalProcess", &req.base);
}

static char *cg_read(const char *ctrl, const char *id, const char *file)
{
	char path[512], *text = NULL;

	if (t.v1)
		snprintf(path, sizeof(path), "%s/%s%s/%s/%s", t.cgroup_root, ctrl, t.prefix, id,
		         file);
	else
		snprintf(path, sizeof(path), "%s%s/%s/%s", t.cgroup_root, t.prefix, id, file);
	if (util_read_file(path, 4096, &text, NULL, NULL) < 0)
		return NULL;
	return text;
}

static int count_fds(int pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_health(void)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	Grpc__HealthCheckResponse *h = NULL;
	Grpc__VersionCheckResponse *v = NULL;

	int rc;

	rc = call(HEALTH, "Check", &req.base, &grpc__health_check_response__descriptor,
	          (ProtobufCMessage **)&h, NULL);
	check(rc == 0 && h->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING,
	      "Health.Check answers SERVING");
	rc = call(HEALTH, "Version", &req.base, &grpc__version_check_response__descriptor,
	          (ProtobufCMessage **)&v, NULL);
	check(rc == 0 && v->agent_version[0], "Health.Version names the agent version (%s)",
	      v ? v->agent_version : "?");
	if (h)
		protobuf_c_message_free_unpacked(&h->base, NULL);
	if (v)
		protobuf_c_message_free_unpacked(&v->base, NULL);
}

static void test_run_to_exit(void)
{
	char *out, *err;

	check(create("c1",
	             "[\"sh\",\"-c\",\"echo hello; hostname; mkdir /tmp/x 2>/dev/null || "
	             "echo mkdir-denied; echo err >&2; exit 3\"]",
	             NULL, NULL) == 0,
	      "CreateContainer c1");
	check(simple("StartContainer", "c1") == 0, "StartContainer c1");
	out = read_all("ReadStdout", "c1", "c1");
	check(out && !strcmp(out, "hello\nc1\nmkdir-denied\n"),
	      "ReadStdout to EOF: exact output, hostname set, seccomp rule applied (got \"%s\")",
	      out ? out : "(error)");
	err = read_all("ReadStderr", "c1", "c1");
	check(err && !strcmp(err, "err\n"), "ReadStderr to EOF (got \"%s\")",
	      err ? err : "(error)");
	check(wait_status("c1", "c1") == 3, "WaitProcess: exit code 3");
	check(simple("RemoveContainer", "c1") == 0, "RemoveContainer c1");
	free(out);
	free(err);
}

static void test_long_running(void)
{
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	Grpc__WriteStreamResponse *wr = NULL;
	Grpc__CloseStdinRequest cl = GRPC__CLOSE_STDIN_REQUEST__INIT;
	Grpc__ReadStreamRequest rr = GRPC__READ_STREAM_REQUEST__INIT;
	Grpc__ReadStreamResponse *rd = NULL;
	Grpc__StatsContainerResponse *st = NULL;
	Grpc__UpdateContainerRequest up = GRPC__UPDATE_CONTAINER_REQUEST__INIT;
	Grpc__LinuxResources res = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxMemory mem = GRPC__LINUX_MEMORY__INIT;
	Grpc__StartContainerRequest sreq = GRPC__START_CONTAINER_REQUEST__INIT;
	char msg[ERR_MSG_MAX], *s, *text;
	int rc;

	check(create("c2", "[\"sh\",\"-c\",\"cat; exec sleep 1000 >/dev/null 2>&1\"]",
	             "{\"pids\":{\"limit\":100},\"memory\":{\"limit\":268435456}}", NULL) == 0,
	      "CreateContainer c2");
	check(create("c2", "[\"true\"]", NULL, msg) == TTRPC_ALREADY_EXISTS,
	      "CreateContainer c2 again: ALREADY_EXISTS (%s)", msg);
	check(simple("StartContainer", "c2") == 0, "StartContainer c2");

	w.container_id = "c2";
	w.exec_id = "c2";
	w.data.data = (uint8_t *)"ping\n";
	w.data.len = 5;
	check(call(AGENT, "WriteStdin", &w.base, &grpc__write_stream_response__descriptor,
	           (ProtobufCMessage **)&wr, NULL) == 0 &&
	              wr->len == 5,
	      "WriteStdin writes 5 bytes");
	rr.container_id = "c2";
	rr.exec_id = "c2";
	rr.len = 100;
	check(call(AGENT, "ReadStdout", &rr.base, &grpc__read_stream_response__descriptor,
	           (ProtobufCMessage **)&rd, NULL) == 0 &&
	              rd->data.len == 5 && !memcmp(rd->data.data, "ping\n", 5),
	      "ReadStdout: cat echoes stdin");
	cl.container_id = "c2";
	cl.exec_id = "c2";
	check(call_ok("CloseStdin", &cl.base) == 0, "CloseStdin");
	s = read_all("ReadStdout", "c2", "c2");
	check(s && !s[0], "ReadStdout after CloseStdin: EOF (cat exited, exec sleep)");
	free(s);

	check(exec_proc("c2", "e1", "[\"sh\",\"-c\",\"echo exec-out $(hostname); exit 5\"]", 0) ==
	              0,
	      "ExecProcess e1");
	s = read_all("ReadStdout", "c2", "e1");
	check(s && !strcmp(s, "exec-out c2\n"),
	      "ExecProcess: output from inside the container (%s)", s ? s : "(error)");
	free(s);
	check(wait_status("c2", "e1") == 5, "WaitProcess e1: exit code 5");

	check(exec_proc("c2", "e2", "[\"sleep\",\"1000\"]", 0) == 0, "ExecProcess e2 (sleep)");
	check(signal_proc("c2", "e2", SIGTERM) == 0, "SignalProcess e2 SIGTERM");
	check(wait_status("c2", "e2") == 143, "WaitProcess e2: 143 after SIGTERM");

	check(exec_proc("c2", "e3", "[\"sh\",\"-c\",\"tty; echo tty-ok\"]", 1) == 0,
	      "ExecProcess e3 with a terminal");
	s = read_all("ReadStdout", "c2", "e3");
	check(s && strstr(s, "/dev/pts/") && strstr(s, "tty-ok\r\n"),
	      "terminal process: stdout is a pty (%s)", s ? s : "(error)");
	free(s);
	check(wait_status("c2", "e3") == 0, "WaitProcess e3: 0");

	check(simple("PauseContainer", "c2") == 0, "PauseContainer");
	if (t.cgroup_root) {
		text = t.v1 ? cg_read("freezer", "c2", "freezer.state")
		            : cg_read("", "c2", "cgroup.freeze");
		check(text && !strncmp(text, t.v1 ? "FROZEN" : "1", t.v1 ? 6 : 1),
		      "cgroup freezer state is frozen (%s)", text ? text : "(unreadable)");
		free(text);
	}
	check(simple("ResumeContainer", "c2") == 0, "ResumeContainer");
	if (t.cgroup_root) {
		text = t.v1 ? cg_read("freezer", "c2", "freezer.state")
		            : cg_read("", "c2", "cgroup.freeze");
		check(text && !strncmp(text, t.v1 ? "THAWED" : "0", t.v1 ? 6 : 1),
		      "cgroup freezer state is thawed (%s)", text ? text : "(unreadable)");
		free(text);
	}

	sreq.container_id = "c2";
	rc = call(AGENT, "StatsContainer", &sreq.base, &grpc__stats_container_response__descriptor,
	          (ProtobufCMessage **)&st, NULL);
	check(rc == 0 && st->cgroup_stats && st->cgroup_stats->pids_stats &&
	              st->cgroup_stats->pids_stats->current >= 1 &&
	              st->cgroup_stats->pids_stats->limit == 100 &&
	              st->cgroup_stats->memory_stats && st->cgroup_stats->memory_stats->usage &&
	              st->cgroup_stats->memory_stats->usage->limit == 268435456,
	      "StatsContainer: pids current %llu limit %llu, memory limit %llu",
	      st && st->cgroup_stats && st->cgroup_stats->pids_stats
	              ? (unsigned long long)st->cgroup_stats->pids_stats->current
	              : 0ull,
	      st && st->cgroup_stats && st->cgroup_stats->pids_stats
	              ? (unsigned long long)st->cgroup_stats->pids_stats->limit
	              : 0ull,
	      st && st->cgroup_stats && st->cgroup_stats->memory_stats &&
	                      st->cgroup_stats->memory_stats->usage
	              ? (unsigned long long)st->cgroup_stats->memory_stats->usage->limit
	              : 0ull);

	mem.limit = 64 << 20;
	res.memory = &mem;
	up.container_id = "c2";
	up.resources = &res;
	check(call_ok("UpdateContainer", &up.base) == 0, "UpdateContainer memory limit 64 MiB");
	if (t.cgroup_root) {
		text = t.v1 ? cg_read("memory", "c2", "memory.limit_in_bytes")
		            : cg_read("", "c2", "memory.max");
		check(text && strtoull(text, NULL, 10) == 64ull << 20,
		      "memory limit visible in the cgroup file (%s)", text ? text : "(unreadable)");
		free(text);
	}

	check(signal_proc("c2", "", SIGKILL) == 0, "SignalProcess init SIGKILL");
	check(wait_status("c2", "") == 137, "WaitProcess init: 137");
	check(simple("RemoveContainer", "c2") == 0, "RemoveContainer c2");
	if (t.cgroup_root) {
		text = cg_read("memory", "c2", "cgroup.procs");
		check(!text, "the container's cgroup is gone");
		free(text);
	}
	if (wr)
		protobuf_c_message_free_unpacked(&wr->base, NULL);
	if (rd)
		protobuf_c_message_free_unpacked(&rd->base, NULL);
	if (st)
		protobuf_c_message_free_unpacked(&st->base, NULL);
}

static void test_oom(void)
{
	Grpc__GetOOMEventRequest req = GRPC__GET_OOMEVENT_REQUEST__INIT;
	Grpc__OOMEvent *ev = NULL;

	check(create("c3", "[\"dd\",\"if=/dev/zero\",\"of=/dev/null\",\"bs=64M\",\"count=1\"]",
	             "{\"memory\":{\"limit\":16777216,\"swap\":16777216}}", NULL) == 0,
	      "CreateContainer c3 (16 MiB, allocates 64 MiB)");
	check(simple("StartContainer", "c3") == 0, "StartContainer c3");
	check(call(AGENT, "GetOOMEvent", &req.base, &grpc__oomevent__descriptor,
	           (ProtobufCMessage **)&ev, NULL) == 0 &&
	              !strcmp(ev->container_id, "c3"),
	      "GetOOMEvent names c3");
	check(wait_status("c3", "c3") == 137, "WaitProcess c3: killed (137)");
	check(simple("RemoveContainer", "c3") == 0, "RemoveContainer c3");
	if (ev)
		protobuf_c_message_free_unpacked(&ev->base, NULL);
}

static void test_errors(void)
{
	Grpc__StartContainerRequest req = GRPC__START_CONTAINER_REQUEST__INIT;
	char msg[ERR_MSG_MAX];

	req.container_id = "nope";
	check(call(AGENT, "StartContainer", &req.base, NULL, NULL, msg) == TTRPC_NOT_FOUND,
	      "StartContainer of an unknown id: NOT_FOUND (%s)", msg);
	check(create("bad", "[]", NULL, msg) == TTRPC_INVALID_ARGUMENT &&
	              strstr(msg, "process.args"),
	      "CreateContainer with empty args: INVALID_ARGUMENT naming process.args (%s)", msg);
	check(call(AGENT, "ReseedRandomDev", &req.base, NULL, NULL, msg) == TTRPC_UNIMPLEMENTED,
	      "an unimplemented method: UNIMPLEMENTED (%s)", msg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"addr", required_argument, NULL, 'a'},
	        {"rootfs", required_argument, NULL, 'r'},
	        {"cgroup-root", required_argument, NULL, 'c'},
	        {"cgroup-prefix", required_argument, NULL, 'p'},
	        {"agent-pid", required_argument, NULL, 'P'},
	        {0},
	};
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__DestroySandboxRequest db = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	const char *addr = NULL;
	struct err e = {0};
	int c, fd, fds0 = -1;
	struct stat st;

	while ((c = getopt_long(argc, argv, "a:r:c:p:P:", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'r':
			t.rootfs = optarg;
			break;
		case 'c':
			t.cgroup_root = optarg;
			break;
		case 'p':
			t.prefix = optarg;
			break;
		case 'P':
			t.agent_pid = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!addr || !t.rootfs) {
		fprintf(stderr, "usage: agent-client --addr ADDR --rootfs DIR [--cgroup-root DIR] "
		                "[--cgroup-prefix P] [--agent-pid PID]\n");
		return 2;
	}
	if (t.cgroup_root) {
		char p[512];

		snprintf(p, sizeof(p), "%s/memory", t.cgroup_root);
		t.v1 = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	}
	if (hvsock_addr_dial(addr, 30000, &fd, &e) < 0 || ttrpc_client_new(&t.c, fd, &e) < 0) {
		fprintf(stderr, "agent-client: %s\n", e.msg);
		return 1;
	}
	test_health();
	if (t.agent_pid)
		fds0 = count_fds(t.agent_pid);
	sb.hostname = "hako-test";
	sb.sandbox_id = "sandbox-test";
	check(call_ok("CreateSandbox", &sb.base) == 0, "CreateSandbox");
	test_run_to_exit();
	test_long_running();
	test_oom();
	test_errors();
	if (t.agent_pid) {
		int fds1 = count_fds(t.agent_pid);

		check(fds0 > 0 && fds1 == fds0, "agent fds after all removals: %d (at start %d)",
		      fds1, fds0);
	}
	check(call_ok("DestroySandbox", &db.base) == 0, "DestroySandbox");
	ttrpc_client_free(t.c);
	printf("1..%d\n", t.n);
	return t.failed ? 1 : 0;
}
