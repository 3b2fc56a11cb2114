/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libbpf and libdw loaded on first use (dlopen, target/dlib.h) instead of linked: a run that
 * reads BTF in place, the common one, calls neither (libbpf holds only BTF that DWARF is
 * converted into, or what it parses when a .BTF cannot be read in place; libdw reads DWARF),
 * and linked, they and what they link (liblzma, libbz2) cost every tool's start ~1 ms of
 * dynamic loading (bench/README.md, P5). Included last by the files that call them (after
 * <bpf/btf.h>, <elfutils/libdw.h>...): each call of one of their functions, f(args), goes
 * through a pointer resolved at its first call, of f's own type. A library that cannot be
 * loaded (not installed: the packages depend on it) ends the process with a message.
 */
#pragma once

#include "target/dlib.h"

extern struct dlib kdl_bpf, kdl_dw;

/* Function @name of @l, loaded now if it is not yet: never NULL (see above). */
void *kdl_sym(struct dlib *l, const char *name);

#define KDL_CALL(l, f)                                              \
	({                                                          \
		static __typeof__(&f) kdl_p_;                       \
		if (!kdl_p_)                                        \
			kdl_p_ = (__typeof__(&f))kdl_sym(&(l), #f); \
		kdl_p_;                                             \
	})

/* libbpf */
#define btf__add_array(...) KDL_CALL(kdl_bpf, btf__add_array)(__VA_ARGS__)
#define btf__add_const(...) KDL_CALL(kdl_bpf, btf__add_const)(__VA_ARGS__)
#define btf__add_enum(...) KDL_CALL(kdl_bpf, btf__add_enum)(__VA_ARGS__)
#define btf__add_enum64(...) KDL_CALL(kdl_bpf, btf__add_enum64)(__VA_ARGS__)
#define btf__add_enum64_value(...) KDL_CALL(kdl_bpf, btf__add_enum64_value)(__VA_ARGS__)
#define btf__add_enum_value(...) KDL_CALL(kdl_bpf, btf__add_enum_value)(__VA_ARGS__)
#define btf__add_field(...) KDL_CALL(kdl_bpf, btf__add_field)(__VA_ARGS__)
#define btf__add_float(...) KDL_CALL(kdl_bpf, btf__add_float)(__VA_ARGS__)
#define btf__add_func_param(...) KDL_CALL(kdl_bpf, btf__add_func_param)(__VA_ARGS__)
#define btf__add_func_proto(...) KDL_CALL(kdl_bpf, btf__add_func_proto)(__VA_ARGS__)
#define btf__add_fwd(...) KDL_CALL(kdl_bpf, btf__add_fwd)(__VA_ARGS__)
#define btf__add_int(...) KDL_CALL(kdl_bpf, btf__add_int)(__VA_ARGS__)
#define btf__add_ptr(...) KDL_CALL(kdl_bpf, btf__add_ptr)(__VA_ARGS__)
#define btf__add_restrict(...) KDL_CALL(kdl_bpf, btf__add_restrict)(__VA_ARGS__)
#define btf__add_struct(...) KDL_CALL(kdl_bpf, btf__add_struct)(__VA_ARGS__)
#define btf__add_typedef(...) KDL_CALL(kdl_bpf, btf__add_typedef)(__VA_ARGS__)
#define btf__add_union(...) KDL_CALL(kdl_bpf, btf__add_union)(__VA_ARGS__)
#define btf__add_volatile(...) KDL_CALL(kdl_bpf, btf__add_volatile)(__VA_ARGS__)
#define btf__base_btf(...) KDL_CALL(kdl_bpf, btf__base_btf)(__VA_ARGS__)
#define btf__find_by_name(...) KDL_CALL(kdl_bpf, btf__find_by_name)(__VA_ARGS__)
#define btf__find_by_name_kind(...) KDL_CALL(kdl_bpf, btf__find_by_name_kind)(__VA_ARGS__)
#define btf__free(...) KDL_CALL(kdl_bpf, btf__free)(__VA_ARGS__)
#define btf__name_by_offset(...) KDL_CALL(kdl_bpf, btf__name_by_offset)(__VA_ARGS__)
#define btf__new_empty(...) KDL_CALL(kdl_bpf, btf__new_empty)(__VA_ARGS__)
#define btf__parse(...) KDL_CALL(kdl_bpf, btf__parse)(__VA_ARGS__)
#define btf__parse_split(...) KDL_CALL(kdl_bpf, btf__parse_split)(__VA_ARGS__)
#define btf__resolve_size(...) KDL_CALL(kdl_bpf, btf__resolve_size)(__VA_ARGS__)
#define btf__type_by_id(...) KDL_CALL(kdl_bpf, btf__type_by_id)(__VA_ARGS__)
#define btf__type_cnt(...) KDL_CALL(kdl_bpf, btf__type_cnt)(__VA_ARGS__)
#define libbpf_set_print(...) KDL_CALL(kdl_bpf, libbpf_set_print)(__VA_ARGS__)
#define libbpf_strerror(...) KDL_CALL(kdl_bpf, libbpf_strerror)(__VA_ARGS__)

/* libdw (with libdwfl and libdwelf) */
#define dwarf_aggregate_size(...) KDL_CALL(kdl_dw, dwarf_aggregate_size)(__VA_ARGS__)
#define dwarf_attr(...) KDL_CALL(kdl_dw, dwarf_attr)(__VA_ARGS__)
#define dwarf_attr_integrate(...) KDL_CALL(kdl_dw, dwarf_attr_integrate)(__VA_ARGS__)
#define dwarf_begin_elf(...) KDL_CALL(kdl_dw, dwarf_begin_elf)(__VA_ARGS__)
#define dwarf_bytesize(...) KDL_CALL(kdl_dw, dwarf_bytesize)(__VA_ARGS__)
#define dwarf_child(...) KDL_CALL(kdl_dw, dwarf_child)(__VA_ARGS__)
#define dwarf_diename(...) KDL_CALL(kdl_dw, dwarf_diename)(__VA_ARGS__)
#define dwarf_dieoffset(...) KDL_CALL(kdl_dw, dwarf_dieoffset)(__VA_ARGS__)
#define dwarf_end(...) KDL_CALL(kdl_dw, dwarf_end)(__VA_ARGS__)
#define dwarf_errmsg(...) KDL_CALL(kdl_dw, dwarf_errmsg)(__VA_ARGS__)
#define dwarf_formref_die(...) KDL_CALL(kdl_dw, dwarf_formref_die)(__VA_ARGS__)
#define dwarf_formsdata(...) KDL_CALL(kdl_dw, dwarf_formsdata)(__VA_ARGS__)
#define dwarf_formudata(...) KDL_CALL(kdl_dw, dwarf_formudata)(__VA_ARGS__)
#define dwarf_getlocation(...) KDL_CALL(kdl_dw, dwarf_getlocation)(__VA_ARGS__)
#define dwarf_hasattr(...) KDL_CALL(kdl_dw, dwarf_hasattr)(__VA_ARGS__)
#define dwarf_next_unit(...) KDL_CALL(kdl_dw, dwarf_next_unit)(__VA_ARGS__)
#define dwarf_offdie(...) KDL_CALL(kdl_dw, dwarf_offdie)(__VA_ARGS__)
#define dwarf_siblingof(...) KDL_CALL(kdl_dw, dwarf_siblingof)(__VA_ARGS__)
#define dwarf_tag(...) KDL_CALL(kdl_dw, dwarf_tag)(__VA_ARGS__)
/* an inline function of libdw.h when optimizing, else called */
#define dwarf_whatform(...) KDL_CALL(kdl_dw, dwarf_whatform)(__VA_ARGS__)
#define dwelf_elf_gnu_build_id(...) KDL_CALL(kdl_dw, dwelf_elf_gnu_build_id)(__VA_ARGS__)
#define dwfl_begin(...) KDL_CALL(kdl_dw, dwfl_begin)(__VA_ARGS__)
#define dwfl_end(...) KDL_CALL(kdl_dw, dwfl_end)(__VA_ARGS__)
#define dwfl_errmsg(...) KDL_CALL(kdl_dw, dwfl_errmsg)(__VA_ARGS__)
#define dwfl_module_getdwarf(...) KDL_CALL(kdl_dw, dwfl_module_getdwarf)(__VA_ARGS__)
#define dwfl_offline_section_address(...) \
	KDL_CALL(kdl_dw, dwfl_offline_section_address)(__VA_ARGS__)
#define dwfl_report_end(...) KDL_CALL(kdl_dw, dwfl_report_end)(__VA_ARGS__)
#define dwfl_report_offline(...) KDL_CALL(kdl_dw, dwfl_report_offline)(__VA_ARGS__)
