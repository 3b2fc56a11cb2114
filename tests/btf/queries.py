"""The kernel types, members and expressions libkvmdci's type code is asked about in tests/btf.

One list for every test there: test-btf-offsets.py checks the answers against bpftool's dump of
the lab kernel's BTF, test-dwarf-btf.py checks that DWARF gives the same answers as BTF.
QUERIES: (module or None for vmlinux-then-modules, type, member path), what lib/kvm, lib/kernel
and lib/catalog read on Intel, AMD and the I/O buses (docs/kernel-facts.md). SIZES: (module or
None, type). EXPRS: capture expressions compiled against the types; the last one names a member
that does not exist.
"""

QUERIES = [
    (None, "struct kvm", "vm_list"), (None, "struct kvm", "buses"),
    (None, "struct kvm", "online_vcpus"), (None, "struct kvm", "userspace_pid"),
    (None, "struct kvm", "vcpu_array"), (None, "struct kvm_io_range", "addr"),
    (None, "struct kvm_io_range", "len"), (None, "struct kvm_io_range", "dev"),
    (None, "struct kvm_io_bus", "range[2].dev"), (None, "struct kvm_vcpu", "stat.exits"),
    (None, "struct kvm_vcpu", "stat.io_exits"), (None, "struct kvm_vcpu", "vcpu_id"),
    (None, "struct kvm_vcpu", "vcpu_idx"), (None, "struct kvm_vcpu", "cpu"),
    (None, "struct kvm_vcpu", "kvm"), (None, "struct kvm_vcpu", "arch.regs_avail"),
    (None, "struct module", "list"), (None, "struct module", "name"),
    (None, "struct module", "kallsyms"), (None, "struct mod_kallsyms", "num_symtab"),
    (None, "struct mod_kallsyms", "strtab"), (None, "struct xa_node", "shift"),
    (None, "struct xa_node", "slots"), (None, "struct xarray", "xa_head"),
    ("kvm_amd", "struct vcpu_svm", "vmcb"), ("kvm_amd", "struct vmcb", "control.exit_code"),
    ("kvm_amd", "struct vmcb", "control.exit_info_1"),
    ("kvm_amd", "struct vcpu_svm", "nested.vmcb12_gpa"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.intercepts"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.iopm_base_pa"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.asid"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.tlb_ctl"),
    ("kvm_amd", "struct vcpu_svm", "nested.ctl.nested_ctl"),
    ("kvm_amd", "struct vcpu_svm", "nested.save"),
    ("kvm_amd", "struct vcpu_svm", "nested.save.efer"),
    ("kvm_amd", "struct vcpu_svm", "nested.save.cr3"),
    ("kvm_intel", "struct vcpu_vmx", "exit_reason"),
    ("kvm_intel", "struct vcpu_vmx", "exit_reason.basic"),
    ("kvm_intel", "struct vcpu_vmx", "exit_reason.failed_vmentry"),
    ("kvm_intel", "struct vcpu_vmx", "loaded_vmcs"),
    (None, "struct kvm_vcpu_arch", "regs"), (None, "struct kvm_vcpu_arch", "regs[4]"),
    (None, "struct kvm_vcpu", "arch.efer"), (None, "struct kvm_vcpu", "arch.cr3"),
    (None, "struct kvm_vcpu", "mode"), (None, "struct kvm_vcpu", "pid"),
    (None, "struct pid", "numbers[0].nr"), (None, "struct kvm_io_bus", "dev_count"),
    (None, "struct kvm_io_bus", "ioeventfd_count"), (None, "struct kvm_io_device", "ops"),
    ("kvm_amd", "struct vcpu_svm", "vcpu"), ("kvm_amd", "struct vmcb_control_area", "exit_code"),
    ("kvm_amd", "struct vmcb_control_area", "exit_info_2"),
    ("kvm_amd", "struct vmcb", "save.rip"),
    ("kvm_intel", "struct vcpu_vmx", "vmcs01"),
    ("kvm_intel", "struct loaded_vmcs", "vmcs"), ("kvm_intel", "struct loaded_vmcs", "cpu"),
    ("kvm_intel", "struct loaded_vmcs", "launched"),
    ("kvm_intel", "struct vmcs12", "hdr.revision_id"), ("kvm_intel", "struct vmcs12", "abort"),
    ("kvm_intel", "struct vmcs12", "launch_state"), ("kvm_intel", "struct vmcs12", "guest_rip"),
    ("kvm_intel", "struct vmcs12", "guest_cr3"),
    ("kvm_intel", "struct vmcs12", "vm_exit_reason"),
    ("kvm_intel", "struct vmcs12", "host_rsp"),
    ("kvm", "struct kvm_pit", "dev"), ("kvm", "struct kvm_pit", "speaker_dev"),
    ("kvm", "struct kvm_pic", "dev_master"), ("kvm", "struct kvm_ioapic", "base_address"),
    ("kvm", "struct kvm_coalesced_mmio_dev", "zone.pio"),
    ("kvm", "struct _ioeventfd", "addr"), ("kvm", "struct _ioeventfd", "length"),
    ("kvm", "struct _ioeventfd", "datamatch"), ("kvm", "struct _ioeventfd", "wildcard"),
    ("kvm", "struct _ioeventfd", "bus_idx"),
    # found through vmlinux first (a miss there), as lib/kvm/iobus.c asks
    (None, "struct _ioeventfd", "wildcard"), (None, "struct kvm_pit", "dev"),
    # KVM's named stats (lib/kvm/named-stats.c): the stats structs and KVM's descriptors
    # (struct _kvm_stats_desc wraps struct kvm_stats_desc on 6.1 only: not asked here)
    (None, "struct kvm", "stat"), (None, "struct kvm_vcpu", "stat"),
    (None, "struct kvm_stats_header", "num_desc"), (None, "struct kvm_stats_desc", "flags"),
    (None, "struct kvm_stats_desc", "exponent"), (None, "struct kvm_stats_desc", "size"),
    (None, "struct kvm_stats_desc", "offset"), (None, "struct kvm_stats_desc", "bucket_size"),
]
SIZES = [(None, "struct kvm"), (None, "struct kvm_vcpu"), (None, "struct kvm_io_range"),
         ("kvm_amd", "struct vcpu_svm"), ("kvm_amd", "struct vmcb"),
         ("kvm_intel", "struct vcpu_vmx"), ("kvm_intel", "struct vmcs12"),
         ("kvm_intel", "struct loaded_vmcs"), ("kvm", "struct _ioeventfd"),
         ("kvm", "enum kvm_reg"), (None, "u64"), (None, "struct kvm_stats_desc"),
         (None, "struct kvm_vm_stat"), (None, "struct kvm_vcpu_stat")]
EXPRS = [
    "((struct vcpu_svm *)$arg0)->vmcb->control.exit_code",
    "((struct vcpu_vmx *)$arg0)->exit_reason.basic",
    "((struct vcpu_vmx *)$arg0)->loaded_vmcs->cpu",
    "((struct kvm_vcpu *)$arg0)->kvm->buses[1]->dev_count",
    "((struct vcpu_vmx *)$arg0)->no_such_member",
]
