// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * IA32_DEBUG_INTERFACE (MSR 0xC80; exists when CPUID.1:ECX[11] SDBG): bit 0 enable, bit 30
 * lock, bit 31 debug occurred (Intel SDM vol. 4, "Model-Specific Registers";
 * docs/kernel-facts.md "IA32_DEBUG_INTERFACE"). Intel DCI debugging needs enable = 1; firmware of
 * production machines leaves enable = 0 with lock = 1.
 */
#include "internal.h"

KVMDCI_EXPORT void kvmdci_debug_interface_decode(uint64_t raw, struct kvmdci_debug_interface *out)
{
	memset(out, 0, sizeof(*out));
	out->raw = raw;
	out->enable = raw & 1;
	out->lock = (raw >> 30) & 1;
	out->debug_occurred = (raw >> 31) & 1;
}
