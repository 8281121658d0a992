/* vmm/cli.h: the hako-vmm command line, parsed into a struct vmm_config.
 * Separate from main.c so the unit tests can drive it. */
#ifndef HAKO_VMM_CLI_H
#define HAKO_VMM_CLI_H

#include <stdbool.h>

#include "lib/err.h"
#include "vmm/vmm.h"

/* Exit status of hako-vmm for each way the guest can end. */
#define VMM_CLI_EXIT_POWEROFF     0
#define VMM_CLI_EXIT_ERROR        1
#define VMM_CLI_EXIT_USAGE        2
#define VMM_CLI_EXIT_REBOOT       3
#define VMM_CLI_EXIT_TRIPLE_FAULT 4
#define VMM_CLI_EXIT_SHUTDOWN     5

struct vmm_cli {
	struct vmm_config cfg;
	bool help, version, verbose;
};

/* Parse argv (its strings are split in place for "PATH,ro" and "TAG=DIR"
 * and must outlive cli). -1 with e naming the bad argument. */
int vmm_cli_parse(struct vmm_cli *cli, int argc, char **argv, struct err *e);
const char *vmm_cli_usage(void);
int vmm_cli_exit_status(enum vmm_exit_reason r);

#endif
