/* Unit tests for agent/oci: a full valid config.json, and invalid specs whose
 * errors must name the offending field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <linux/capability.h>
#include <cmocka.h>

#include <seccomp.h>

#include "agent/oci.h"

static const char *valid_spec =
        "{\"ociVersion\":\"1.1.0\","
        "\"process\":{\"terminal\":true,\"consoleSize\":{\"height\":25,\"width\":80},"
        " \"user\":{\"uid\":1000,\"gid\":100,\"umask\":18,\"additionalGids\":[5,6]},"
        " \"args\":[\"sh\",\"-c\",\"echo hi\"],\"env\":[\"PATH=/bin\",\"TERM=xterm\"],"
        " \"cwd\":\"/work\","
        " \"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_NOT_A_REAL_ONE\"],"
        "   \"effective\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\"],\"ambient\":[]},"
        " \"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":512}],"
        " \"noNewPrivileges\":true,\"oomScoreAdj\":-500},"
        "\"root\":{\"path\":\"/rootfs\",\"readonly\":true},"
        "\"hostname\":\"box\","
        "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
        " {\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv\","
        "  \"options\":[\"rbind\",\"ro\",\"nosuid\",\"nodev\",\"noexec\",\"rslave\"]},"
        " {\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
        "  \"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]}],"
        "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
        "  {\"type\":\"network\",\"path\":\"/proc/1/ns/net\"},{\"type\":\"user\"}],"
        " \"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
        " \"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
        " \"resources\":{\"memory\":{\"limit\":67108864,\"reservation\":1048576,"
        "   \"swap\":134217728},"
        "  \"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0-1\","
        "   \"mems\":\"0\"},"
        "  \"pids\":{\"limit\":64},"
        "  \"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
        "   {\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"}]},"
        " \"cgroupsPath\":\"/hako/box\","
        " \"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},"
        " \"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\",\"/proc/bus\"],"
        " \"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
        "   \"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"],"
        "   \"syscalls\":[{\"names\":[\"read\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
        "    {\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
        "     \"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]}]},"
        " \"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229,"
        "   \"fileMode\":438,\"uid\":0,\"gid\":0}]}}";

static void test_valid_spec(void **state)
{
	struct oci_spec *s = NULL;
	struct err e = {0};
	struct oci_process *p;

	(void)state;
	assert_int_equal(oci_spec_parse(valid_spec, &s, &e), 0);
	assert_string_equal(s->version, "1.1.0");
	p = s->process;
	assert_non_null(p);
	assert_true(p->terminal);
	assert_int_equal(p->console_height, 25);
	assert_int_equal(p->console_width, 80);
	assert_int_equal(p->uid, 1000);
	assert_int_equal(p->gid, 100);
	assert_int_equal(p->umask, 18);
	assert_int_equal(p->nr_additional_gids, 2);
	assert_int_equal(p->additional_gids[1], 6);
	assert_string_equal(p->args[2], "echo hi");
	assert_null(p->args[3]);
	assert_string_equal(p->env[1], "TERM=xterm");
	assert_string_equal(p->cwd, "/work");
	assert_true(p->has_caps);
	assert_int_equal(p->caps.bounding, (1ull << CAP_CHOWN) | (1ull << CAP_KILL));
	assert_int_equal(p->caps.effective, 1ull << CAP_KILL);
	assert_int_equal(p->caps.inheritable, 0);
	assert_int_equal(p->caps.ambient, 0);
	assert_int_equal(p->nr_rlimits, 1);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(p->rlimits[0].soft, 512);
	assert_int_equal(p->rlimits[0].hard, 1024);
	assert_true(p->no_new_privileges);
	assert_true(p->has_oom_score_adj);
	assert_int_equal(p->oom_score_adj, -500);

	assert_string_equal(s->root_path, "/rootfs");
	assert_true(s->root_readonly);
	assert_string_equal(s->hostname, "box");
	assert_int_equal(s->nr_mounts, 3);
	assert_int_equal(s->mounts[0].flags, 0);
	assert_string_equal(s->mounts[0].type, "proc");
	assert_int_equal(s->mounts[1].flags,
	                 MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	assert_int_equal(s->mounts[1].propagation, MS_SLAVE | MS_REC);
	assert_null(s->mounts[1].data);
	assert_int_equal(s->mounts[2].flags, MS_NOSUID | MS_STRICTATIME);
	assert_string_equal(s->mounts[2].data, "mode=755,size=65536k");

	assert_true(s->ns[OCI_NS_PID].present);
	assert_null(s->ns[OCI_NS_PID].path);
	assert_true(s->ns[OCI_NS_MOUNT].present);
	assert_string_equal(s->ns[OCI_NS_NETWORK].path, "/proc/1/ns/net");
	assert_false(s->ns[OCI_NS_UTS].present);
	assert_true(s->ns[OCI_NS_USER].present);
	assert_int_equal(s->nr_uid_mappings, 1);
	assert_int_equal(s->uid_mappings[0].host_id, 100000);
	assert_int_equal(s->gid_mappings[0].size, 65536);

	assert_int_equal(s->resources.mem_limit, 67108864);
	assert_int_equal(s->resources.mem_reservation, 1048576);
	assert_int_equal(s->resources.mem_swap, 134217728);
	assert_int_equal(s->resources.cpu_shares, 512);
	assert_int_equal(s->resources.cpu_quota, 50000);
	assert_int_equal(s->resources.cpu_period, 100000);
	assert_string_equal(s->resources.cpus, "0-1");
	assert_string_equal(s->resources.mems, "0");
	assert_int_equal(s->resources.pids_limit, 64);
	assert_int_equal(s->resources.nr_devices, 2);
	assert_false(s->resources.devices[0].allow);
	assert_int_equal(s->resources.devices[0].type, 'a');
	assert_int_equal(s->resources.devices[0].major, -1);
	assert_true(s->resources.devices[1].allow);
	assert_int_equal(s->resources.devices[1].minor, 3);
	assert_string_equal(s->resources.devices[1].access, "rw");

	assert_string_equal(s->cgroups_path, "/hako/box");
	assert_int_equal(s->nr_sysctl, 1);
	assert_string_equal(s->sysctl_keys[0], "net.ipv4.ip_forward");
	assert_string_equal(s->sysctl_values[0], "1");
	assert_int_equal(s->nr_masked_paths, 1);
	assert_int_equal(s->nr_readonly_paths, 2);
	assert_string_equal(s->readonly_paths[1], "/proc/bus");

	assert_non_null(s->seccomp);
	assert_int_equal(s->seccomp->default_action, SCMP_ACT_ERRNO(38));
	assert_int_equal(s->seccomp->nr_archs, 2);
	assert_int_equal(s->seccomp->archs[0], SCMP_ARCH_X86_64);
	assert_int_equal(s->seccomp->nr_rules, 2);
	assert_int_equal(s->seccomp->rules[0].nr_names, 2);
	assert_string_equal(s->seccomp->rules[0].names[1], "write");
	assert_int_equal(s->seccomp->rules[0].action, SCMP_ACT_ALLOW);
	assert_int_equal(s->seccomp->rules[1].nr_args, 1);
	assert_int_equal(s->seccomp->rules[1].args[0].op, SCMP_CMP_EQ);
	assert_int_equal(s->seccomp->rules[1].args[0].value, 8);

	assert_int_equal(s->nr_devices, 1);
	assert_string_equal(s->devices[0].path, "/dev/fuse");
	assert_int_equal(s->devices[0].type, 'c');
	assert_int_equal(s->devices[0].major, 10);
	assert_int_equal(s->devices[0].minor, 229);
	assert_true(s->devices[0].has_mode);
	assert_int_equal(s->devices[0].mode, 0666);
	oci_spec_free(s);
}

static void test_minimal_spec_defaults(void **state)
{
	struct oci_spec *s = NULL;
	struct err e = {0};

	(void)state;
	assert_int_equal(oci_spec_parse("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
	                                "\"process\":{\"args\":[\"true\"],\"cwd\":\"/\"}}",
	                                &s, &e),
	                 0);
	assert_false(s->process->has_caps);
	assert_int_equal(s->process->umask, -1);
	assert_null(s->process->env[0]);
	assert_int_equal(s->resources.mem_limit, OCI_UNSET);
	assert_int_equal(s->resources.pids_limit, OCI_UNSET);
	assert_null(s->seccomp);
	assert_null(s->cgroups_path);
	assert_false(s->ns[OCI_NS_PID].present);
	oci_spec_free(s);
}

struct bad_case {
	const char *json;
	const char *msg;
};

#define BASE "\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"/r\"}"
#define PROC "\"process\":{\"args\":[\"true\"],\"cwd\":\"/\"}"

static const struct bad_case bad_cases[] = {
        {"{", "invalid JSON"},
        {"[]", "config: must be a JSON object"},
        {"{\"root\":{\"path\":\"/r\"}}", "ociVersion: is required"},
        {"{\"ociVersion\":\"1\"}", "root: is required"},
        {"{" BASE ",\"process\":{\"args\":[],\"cwd\":\"/\"}}",
         "process.args: must be a non-empty array of strings"},
        {"{" BASE ",\"process\":{\"args\":\"sh\",\"cwd\":\"/\"}}",
         "process.args: must be a non-empty array of strings"},
        {"{" BASE ",\"process\":{\"args\":[\"sh\",3],\"cwd\":\"/\"}}",
         "process.args[1]: must be a string"},
        {"{" BASE ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"rel\"}}",
         "process.cwd: must be an absolute path"},
        {"{" BASE ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}}}",
         "process.user.uid: must not be negative"},
        {"{" BASE ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
         "\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]}}",
         "process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\""},
        {"{" BASE ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
         "\"rlimits\":[{\"soft\":1}]}}",
         "process.rlimits[0].type: must be a string naming an RLIMIT_*"},
        {"{" BASE ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"oomScoreAdj\":5000}}",
         "process.oomScoreAdj: must be between -1000 and 1000"},
        {"{" BASE ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"terminal\":\"yes\"}}",
         "process.terminal: must be a boolean"},
        {"{" BASE "," PROC ",\"mounts\":[{\"destination\":\"proc\",\"type\":\"proc\"}]}",
         "mounts[0].destination: must be an absolute path"},
        {"{" BASE "," PROC ",\"mounts\":[{\"destination\":\"/x\",\"options\":[\"rbind\"]}]}",
         "mounts[0].source: is required for a bind mount"},
        {"{" BASE "," PROC ",\"mounts\":[{\"destination\":\"/x\",\"source\":\"x\"}]}",
         "mounts[0].type: is required for a mount that is not a bind mount"},
        {"{" BASE "," PROC ",\"mounts\":{}}", "mounts: must be an array"},
        {"{" BASE "," PROC ",\"linux\":{\"namespaces\":[{\"type\":\"time-travel\"}]}}",
         "linux.namespaces[0].type: unknown namespace type \"time-travel\""},
        {"{" BASE "," PROC ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
         "linux.namespaces[1].type: namespace \"pid\" given twice"},
        {"{" BASE "," PROC ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}",
         "linux.uidMappings: a new user namespace needs uidMappings and gidMappings"},
        {"{" BASE "," PROC ",\"linux\":{\"uidMappings\":[{\"hostID\":1}]}}",
         "linux.uidMappings[0].size: is required"},
        {"{" BASE "," PROC ",\"linux\":{\"resources\":{\"memory\":{\"limit\":\"1G\"}}}}",
         "linux.resources.memory.limit: must be an integer"},
        {"{" BASE "," PROC ",\"linux\":{\"resources\":{\"memory\":{\"limit\":-7}}}}",
         "linux.resources.memory.limit: must be -1 (unlimited) or a byte count"},
        {"{" BASE "," PROC ",\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,"
         "\"access\":\"rwx\"}]}}}",
         "linux.resources.devices[0].access: must be a combination of \"r\", \"w\" and \"m\""},
        {"{" BASE "," PROC ",\"linux\":{\"sysctl\":{\"kernel.x\":1}}}",
         "linux.sysctl.kernel.x: must be a string"},
        {"{" BASE "," PROC ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOPE\"}}}",
         "linux.seccomp.defaultAction: unsupported action \"SCMP_ACT_NOPE\""},
        {"{" BASE "," PROC ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
         "\"architectures\":[\"SCMP_ARCH_VAX\"]}}}",
         "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_VAX\""},
        {"{" BASE "," PROC ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
         "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
         "\"args\":[{\"index\":7,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}}}",
         "linux.seccomp.syscalls[0].args[0].index: must be between 0 and 5"},
        {"{" BASE "," PROC ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
         "\"syscalls\":[{\"names\":[],\"action\":\"SCMP_ACT_ERRNO\"}]}}}",
         "linux.seccomp.syscalls[0].names: must be a non-empty array of strings"},
        {"{" BASE "," PROC ",\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\","
         "\"minor\":1}]}}",
         "linux.devices[0].major: is required for a character or block device"},
        {"{" BASE "," PROC ",\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"q\"}]}}",
         "linux.devices[0].type: must be \"c\", \"b\", \"u\" or \"p\""},
};

static void test_invalid_specs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct oci_spec *s = NULL;
		struct err e = {0};

		if (oci_spec_parse(bad_cases[i].json, &s, &e) != -1)
			fail_msg("case %zu parsed: %s", i, bad_cases[i].json);
		if (strncmp(e.msg, bad_cases[i].msg, strlen(bad_cases[i].msg)))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, e.msg, bad_cases[i].msg);
		assert_int_equal(e.errnum, EINVAL);
	}
}

/* What grpc.Spec renders when the values are 0: absent fields. */
static void test_zero_values_absent(void **state)
{
	struct oci_spec *s = NULL;
	struct err e = {0};

	(void)state;
	assert_int_equal(
	        oci_spec_parse("{\"ociVersion\":\"1\",\"root\":{\"path\":\"/r\"},"
	                       "\"process\":{\"args\":[\"x\"],\"cwd\":\"/\",\"rlimits\":"
	                       "[{\"type\":\"RLIMIT_CORE\"}],\"consoleSize\":{}},"
	                       "\"linux\":{\"namespaces\":[{\"type\":\"user\"}],"
	                       "\"uidMappings\":[{\"size\":1}],\"gidMappings\":[{\"size\":1}],"
	                       "\"resources\":{\"pids\":{}},"
	                       "\"devices\":[{\"path\":\"/dev/tty\",\"type\":\"c\",\"major\":5}]}}",
	                       &s, &e),
	        0);
	assert_int_equal(s->process->rlimits[0].soft, 0);
	assert_int_equal(s->process->rlimits[0].hard, 0);
	assert_int_equal(s->uid_mappings[0].container_id, 0);
	assert_int_equal(s->uid_mappings[0].host_id, 0);
	assert_int_equal(s->resources.pids_limit, OCI_UNSET);
	assert_int_equal(s->devices[0].minor, 0);
	oci_spec_free(s);
}

static void test_exec_process(void **state)
{
	struct oci_process *p = NULL;
	struct err e = {0};

	(void)state;
	assert_int_equal(oci_process_parse_string("{\"args\":[\"cat\"],\"cwd\":\"/\","
	                                          "\"env\":[\"A=1\"],\"terminal\":false}",
	                                          &p, &e),
	                 0);
	assert_string_equal(p->args[0], "cat");
	assert_string_equal(p->env[0], "A=1");
	oci_process_free(p);
	assert_int_equal(oci_process_parse_string("{\"args\":[\"cat\"]}", &p, &e), -1);
	assert_string_equal(e.msg, "process.cwd: must be an absolute path");
}

static void test_mount_options_strv(void **state)
{
	char *opts[] = {"ro", "bind", "private", "lowerdir=/a", "upperdir=/b", "rw"};
	unsigned long flags, prop;
	char *data = NULL;
	struct err e = {0};

	(void)state;
	assert_int_equal(oci_mount_options_strv(opts, 6, &flags, &prop, &data, &e), 0);
	assert_int_equal(flags, MS_BIND);
	assert_int_equal(prop, MS_PRIVATE);
	assert_string_equal(data, "lowerdir=/a,upperdir=/b");
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_spec),    cmocka_unit_test(test_minimal_spec_defaults),
	        cmocka_unit_test(test_invalid_specs), cmocka_unit_test(test_zero_values_absent),
	        cmocka_unit_test(test_exec_process),  cmocka_unit_test(test_mount_options_strv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
