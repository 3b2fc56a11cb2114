/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --vm and --vcpu checked against what the target has, before a tool prints anything. */
#pragma once

#include "shared.h"

/*
 * 0 when @sel (from --vm and --vcpu) names nothing or something the target has; otherwise
 * print one error line that echoes the value given and lists the VMs (or the chosen VM's
 * vCPU ids) there are, and return the exit status (1).
 */
int tool_check_selection(struct tool *tool, struct kvmdci_kernel *k,
			 const struct kvmdci_vm_select *sel);
