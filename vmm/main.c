/* vmm/main.c: hako-vmm, a thin command line over libhako-vmm: parse, boot,
 * wait, exit with a status per guest exit reason (see vmm/cli.h). SIGINT,
 * SIGTERM and SIGHUP stop the VM (exit status 5). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "lib/log.h"
#include "vmm/cli.h"
#include "vmm/vmm.h"

static void *signal_thread(void *arg)
{
	struct vmm *v = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigwait(&set, &sig) == 0)
		vmm_stop(v);
	return NULL;
}

int main(int argc, char **argv)
{
	struct vmm_cli cli;
	struct err e = {0};
	struct vmm *v;
	enum vmm_exit_reason r;
	pthread_t sig_thread;
	sigset_t set;

	log_set_name("hako-vmm");
	if (vmm_cli_parse(&cli, argc, argv, &e) < 0) {
		fprintf(stderr, "hako-vmm: %s (try --help)\n", e.msg);
		return VMM_CLI_EXIT_USAGE;
	}
	if (cli.help) {
		fputs(vmm_cli_usage(), stdout);
		return 0;
	}
	if (cli.version) {
		printf("hako-vmm %s\n", HAKO_VERSION);
		return 0;
	}
	if (cli.verbose)
		log_set_level(LOG_DEBUG);

	/* Blocked here, inherited by every thread: only signal_thread takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (vmm_create(&v, &cli.cfg, &e) < 0) {
		fprintf(stderr, "hako-vmm: %s\n", e.msg);
		return VMM_CLI_EXIT_ERROR;
	}
	if (cli.verbose)
		log_info("host %s, command line: %s", vmm_host_kind_name(vmm_host_kind()),
		         vmm_cmdline(v));
	if (pthread_create(&sig_thread, NULL, signal_thread, v) != 0 || vmm_start(v, &e) < 0) {
		fprintf(stderr, "hako-vmm: %s\n", e.msg[0] ? e.msg : "cannot start threads");
		vmm_free(v);
		return VMM_CLI_EXIT_ERROR;
	}
	r = vmm_wait(v);
	if (r == VMM_EXIT_ERROR || r == VMM_EXIT_TRIPLE_FAULT)
		fprintf(stderr, "hako-vmm: guest %s: %s\n", vmm_exit_reason_name(r),
		        vmm_exit_message(v));
	else if (cli.verbose)
		log_info("guest %s: %s", vmm_exit_reason_name(r), vmm_exit_message(v));
	if (cli.verbose)
		log_info("VMM resident memory without guest RAM: %llu KiB",
		         (unsigned long long)(vmm_overhead_rss(v) >> 10));
	/* The signal thread may still sit in sigwait: the process exit ends it. */
	vmm_free(v);
	return vmm_cli_exit_status(r);
}
