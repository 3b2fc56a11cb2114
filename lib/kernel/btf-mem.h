/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BTF read from the target's memory: vmlinux's .BTF and loaded modules' BTF. */
#pragma once

struct kvmdci_kernel;
struct kmodule;

/* vmlinux BTF between __start_BTF and __stop_BTF (from the kernel's symbols). */
int btf_mem_load_vmlinux(struct kvmdci_kernel *k);
/* A loaded module's split BTF: struct module.btf_data while it loads, else the kernel's own
 * copy on btf_modules. */
int btf_mem_load_module(struct kvmdci_kernel *k, struct kmodule *m);
