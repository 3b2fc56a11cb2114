// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ORC unwinder (lib/kernel/orc.c) on crafted memory: a kernel stack laid out as the
 * kernel lays it out (return addresses above each frame, struct pt_regs of x86-64 for entry
 * frames; its offsets checked against the lab kernel's BTF when $KVMDCI_VMLINUX names it),
 * ORC tables with self-relative ip entries. Good stacks unwind to their end; corrupt stacks
 * and bad ORC entries end with a reason, never a crash or an endless loop.
 */
#include <bpf/btf.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/ktypes.h"
#include "kernel/orc.h"
#include "libkvmdci/libkvmdci.h"
#include "test-common.h"

#define TEXT 0xffffffff81000000ULL
#define TEXT_SIZE 0x10000ULL
#define STACK 0xffffc90000010000ULL
#define STACK_SIZE 0x4000ULL

/* functions of the crafted kernel: each 0x100 bytes */
#define FN(i) (TEXT + 0x100ULL * (i))

struct fake {
	uint8_t stack[STACK_SIZE];
	struct orc_table tab;
	int32_t rel[64];
	uint8_t raw[64 * ORC_ENTRY_SIZE];
	unsigned int reads;
};

static int f_read(void *data, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = data;

	f->reads++;
	if (addr < STACK || addr + len > STACK + STACK_SIZE || addr + len < addr)
		return -EFAULT;
	memcpy(buf, f->stack + (addr - STACK), len);
	return 0;
}

static int f_find(void *data, uint64_t ip, struct orc_entry *e)
{
	struct fake *f = data;
	return orc_table_find(&f->tab, ip, e);
}

static bool f_is_text(void *data, uint64_t ip)
{
	return ip >= TEXT && ip < TEXT + TEXT_SIZE;
}

static void put(struct fake *f, uint64_t addr, uint64_t v)
{
	ck_assert(addr >= STACK && addr + 8 <= STACK + STACK_SIZE);
	memcpy(f->stack + (addr - STACK), &v, 8);
}

/* Entry i of the table: covers [ip, next ip); v3 (6.4+) layout of struct orc_entry. */
static void entry(struct fake *f, int i, uint64_t ip, int sp_reg, int16_t sp_off, int bp_reg,
		  int16_t bp_off, int type)
{
	uint64_t slot = f->tab.ip_base + 4ULL * (uint64_t)i;
	uint16_t flags = (uint16_t)(sp_reg | bp_reg << 4 | type << 8 |
				    (type == ORC_TYPE_REGS || type == ORC_TYPE_REGS_PARTIAL) << 11);
	uint8_t *r = f->raw + i * ORC_ENTRY_SIZE;

	f->rel[i] = (int32_t)(ip - slot);
	memcpy(r, &sp_off, 2);
	memcpy(r + 2, &bp_off, 2);
	memcpy(r + 4, &flags, 2);
	f->tab.n = (uint32_t)i + 1;
}

/*
 * The table: functions 0..5 have a frame of 0x20 bytes + the return address (sp + 0x28 is the
 * caller's sp); function 6 is an entry point (end of stack); function 7 has an undefined entry;
 * function 8 uses an unknown base register; function 9 is an entry stub whose pt_regs sits at
 * sp; function 10 switches stacks (SP_INDIRECT); function 11 needs R10 from pt_regs. Code
 * from FN(12) on has no ORC (frame-pointer guess); the last entry ends the table.
 */
static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	snprintf(f->tab.name, sizeof(f->tab.name), "test");
	f->tab.ip_base = 0xffffffff82000000ULL; /* where .orc_unwind_ip would be linked */
	f->tab.rel = f->rel;
	f->tab.raw = f->raw;
	f->tab.version = 3;
	int i = 0;
	for (; i < 6; i++)
		entry(f, i, FN(i), ORC_REG_SP, 0x28, ORC_REG_UNDEFINED, 0, ORC_TYPE_CALL);
	entry(f, i++, FN(6), ORC_REG_UNDEFINED, 0, ORC_REG_UNDEFINED, 0, ORC_TYPE_END_OF_STACK);
	entry(f, i++, FN(7), ORC_REG_UNDEFINED, 0, ORC_REG_UNDEFINED, 0, ORC_TYPE_UNDEFINED);
	entry(f, i++, FN(8), 12, 0x28, ORC_REG_UNDEFINED, 0, ORC_TYPE_CALL);
	entry(f, i++, FN(9), ORC_REG_SP, 0, ORC_REG_UNDEFINED, 0, ORC_TYPE_REGS);
	entry(f, i++, FN(10), ORC_REG_SP_INDIRECT, 0x10, ORC_REG_UNDEFINED, 0, ORC_TYPE_CALL);
	entry(f, i++, FN(11), ORC_REG_R10, 0x8, ORC_REG_UNDEFINED, 0, ORC_TYPE_CALL);
	entry(f, i++, FN(12), ORC_REG_UNDEFINED, 0, ORC_REG_UNDEFINED, 0, ORC_TYPE_UNDEFINED);
	ck_assert_int_eq(orc_table_finish(&f->tab), 0);
	/* the terminator is the last entry: everything from FN(12) on has no ORC */
	f->tab.last = FN(12) - 1;
	return f;
}

static struct orc_env env_of(struct fake *f)
{
	struct orc_env env = {
		.read = f_read, .find = f_find, .is_text = f_is_text, .data = f, .max_reads = 1024};
	orc_regs_layout_default(&env.regs);
	return env;
}

static int run(struct fake *f, uint64_t ip, uint64_t sp, uint64_t bp, struct orc_frame *fr, int max,
	       int *end, char *detail)
{
	struct orc_env env = env_of(f);
	struct orc_state s = {.ip = ip, .sp = sp, .bp = bp, .signal = true};
	return orc_unwind(&env, &s, fr, max, end, detail, 160);
}

/* A chain: FN(first)+0x10 called from FN(first+1)+0x20 ... up to FN(last), which called
 * from FN(6) (the entry). Returns the innermost sp. */
static uint64_t chain(struct fake *f, uint64_t top, int first, int last)
{
	uint64_t sp = top;
	for (int i = last; i >= first; i--) {
		uint64_t caller = i == last ? FN(6) + 0x30 : FN(i + 1) + 0x20;
		sp -= 8;
		put(f, sp, caller); /* return address */
		sp -= 0x20;	    /* the frame */
	}
	return sp;
}

START_TEST(good_stack_to_end)
{
	struct fake *f = fake_new();
	struct orc_frame fr[64];
	char detail[160];
	int end;
	uint64_t sp = chain(f, STACK + STACK_SIZE - 0x100, 0, 4);

	int n = run(f, FN(0) + 0x10, sp, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_END_OF_STACK);
	ck_assert_int_eq(n, 6);
	ck_assert_uint_eq(fr[0].ip, FN(0) + 0x10);
	for (int i = 1; i < 5; i++) {
		ck_assert_uint_eq(fr[i].ip, FN(i) + 0x20);
		ck_assert_uint_eq(fr[i].sp, fr[i - 1].sp + 0x28);
		ck_assert(!fr[i].regs && !fr[i].guess);
	}
	ck_assert_uint_eq(fr[5].ip, FN(6) + 0x30);
	free(f);
}
END_TEST

START_TEST(user_mode_regs_end)
{
	struct fake *f = fake_new();
	struct orc_regs_layout L;
	struct orc_frame fr[64];
	char detail[160];
	int end;
	orc_regs_layout_default(&L);
	/* pt_regs at the top of the stack, from user mode (cs 0x33) */
	uint64_t regs = STACK + STACK_SIZE - L.size;
	put(f, regs + L.ip, 0x401000);
	put(f, regs + L.cs, 0x33);
	put(f, regs + L.sp, 0x7ffc0000);
	uint64_t sp = regs - 8;
	put(f, sp, FN(9) + 0x8); /* FN(1) returns into the entry stub FN(9) */
	sp -= 0x20;
	put(f, sp - 8, FN(1) + 0x20);
	sp -= 0x28;
	int n = run(f, FN(0) + 4, sp, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_USER_MODE);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(fr[2].ip, FN(9) + 0x8);
	ck_assert_msg(strstr(detail, "user mode"), "%s", detail);

	/* the same from kernel mode (an interrupt of kernel code): the unwind goes on */
	put(f, regs + L.cs, 0x10);
	put(f, regs + L.ip, FN(3) + 0x40);
	uint64_t isp = STACK + 0x800;
	put(f, regs + L.sp, isp);
	put(f, isp + 0x20, FN(6) + 0x10);
	n = run(f, FN(0) + 4, sp, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_END_OF_STACK);
	ck_assert_int_eq(n, 5);
	ck_assert(fr[3].regs);
	ck_assert_uint_eq(fr[3].ip, FN(3) + 0x40);
	ck_assert_uint_eq(fr[3].sp, isp);
	free(f);
}
END_TEST

START_TEST(corrupt_return_address)
{
	struct fake *f = fake_new();
	struct orc_frame fr[64];
	char detail[160];
	int end;
	uint64_t sp = chain(f, STACK + STACK_SIZE - 0x100, 0, 4);
	put(f, sp + 0x28 + 0x20, 0x4141414141414141ULL); /* smash frame 1's return address */
	int n = run(f, FN(0) + 0x10, sp, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_BAD_FRAME);
	ck_assert_int_eq(n, 2);
	ck_assert_msg(strstr(detail, "not kernel text"), "%s", detail);
	free(f);
}
END_TEST

START_TEST(bad_orc_entries)
{
	struct fake *f = fake_new();
	struct orc_frame fr[64];
	char detail[160];
	int end;
	uint64_t sp = STACK + 0x1000;

	int n = run(f, FN(7) + 4, sp, 0, fr, 64, &end, detail); /* undefined entry */
	ck_assert_int_eq(end, KVMDCI_UNWIND_BAD_ORC);
	ck_assert_int_eq(n, 1);
	run(f, FN(8) + 4, sp, 0, fr, 64, &end, detail); /* unknown base register */
	ck_assert_int_eq(end, KVMDCI_UNWIND_BAD_ORC);
	ck_assert_msg(strstr(detail, "unknown sp base register 12"), "%s", detail);
	run(f, FN(11) + 4, sp, 0, fr, 64, &end, detail); /* R10 without pt_regs */
	ck_assert_int_eq(end, KVMDCI_UNWIND_BAD_FRAME);
	ck_assert_msg(strstr(detail, "r10"), "%s", detail);
	/* the start itself outside text */
	n = run(f, 0x1234, sp, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_BAD_FRAME);
	ck_assert_int_eq(n, 1);
	free(f);
}
END_TEST

START_TEST(unreadable_stack)
{
	struct fake *f = fake_new();
	struct orc_frame fr[64];
	char detail[160];
	int end;

	int n = run(f, FN(0) + 4, 0xffff888000000000ULL, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_UNREADABLE);
	ck_assert_int_eq(n, 1);
	/* a frame that leads off the end of the stack */
	n = run(f, FN(0) + 4, STACK + STACK_SIZE - 0x10, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_UNREADABLE);
	free(f);
}
END_TEST

START_TEST(loops_end)
{
	struct fake *f = fake_new();
	struct orc_frame fr[64];
	char detail[160];
	int end;
	/* SP_INDIRECT: the saved sp points back at this frame, whose return address is itself */
	uint64_t sp = STACK + 0x1000;
	put(f, sp, sp - 0x10);
	put(f, sp - 8, FN(10) + 1);
	int n = run(f, FN(10), sp, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_LOOP);
	ck_assert_int_le(n, 3);

	/* an entry that sends the stack down: the caller's frame below the callee's */
	uint64_t s2 = STACK + 0x1800;
	put(f, s2 - 0x48, FN(2) + 0x20);
	entry(f, 2, FN(2), ORC_REG_SP, -0x40, ORC_REG_UNDEFINED, 0, ORC_TYPE_CALL);
	n = run(f, FN(2) + 0x30, s2, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_BAD_FRAME);
	ck_assert_msg(strstr(detail, "wrong way"), "%s", detail);
	free(f);
}
END_TEST

START_TEST(depth_and_read_bounds)
{
	struct fake *f = fake_new();
	struct orc_frame fr[64];
	char detail[160];
	int end;
	/* 200 frames of function 1 calling itself: ends at the frame bound */
	uint64_t sp = STACK + STACK_SIZE - 0x40;
	for (int i = 0; i < 200; i++) {
		sp -= 8;
		put(f, sp, FN(1) + 0x20);
		sp -= 0x20;
	}
	int n = run(f, FN(1) + 0x10, sp, 0, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_DEPTH);
	ck_assert_int_eq(n, 64);

	struct orc_env env = env_of(f);
	env.max_reads = 10;
	struct orc_state s = {.ip = FN(1) + 0x10, .sp = sp, .signal = true};
	f->reads = 0;
	n = orc_unwind(&env, &s, fr, 64, &end, detail, sizeof(detail));
	ck_assert_int_eq(end, KVMDCI_UNWIND_UNREADABLE);
	ck_assert_msg(strstr(detail, "read limit"), "%s", detail);
	ck_assert_uint_le(f->reads, 10);
	free(f);
}
END_TEST

START_TEST(frame_pointer_guess)
{
	struct fake *f = fake_new();
	struct orc_frame fr[64];
	char detail[160];
	int end;
	/* code without ORC (FN(13)): push %rbp; mov %rsp,%rbp: [bp] = caller's bp, [bp+8] = ret */
	uint64_t bp = STACK + 0x2000;
	put(f, bp, 0);
	put(f, bp + 8, FN(0) + 0x20);
	uint64_t sp = bp + 0x10;
	put(f, sp + 0x20, FN(6) + 0x30);
	int n = run(f, FN(13) + 0x8, bp - 0x30, bp, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_END_OF_STACK);
	ck_assert_int_eq(n, 3);
	ck_assert(fr[1].guess);
	ck_assert_uint_eq(fr[1].ip, FN(0) + 0x20);
	ck_assert(!fr[2].guess);
	/* a frame-pointer chain into garbage ends as a bad frame, not a crash */
	put(f, bp + 8, 0);
	run(f, FN(13) + 0x8, bp - 0x30, bp, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_BAD_FRAME);
	run(f, FN(13) + 0x8, bp - 0x30, 0xdead0000, fr, 64, &end, detail);
	ck_assert_int_eq(end, KVMDCI_UNWIND_UNREADABLE);
	free(f);
}
END_TEST

START_TEST(random_garbage_terminates)
{
	struct fake *f = fake_new();
	struct orc_frame fr[64];
	char detail[160];
	int end;
	unsigned int seed = 12345;
	/* random stacks with random text addresses sprinkled in: always end, with a reason */
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < STACK_SIZE; i += 8) {
			uint64_t v;
			seed = seed * 1103515245 + 12345;
			if (seed % 3 == 0)
				v = TEXT + (seed >> 4) % (0x100 * 14);
			else if (seed % 3 == 1)
				v = STACK + ((seed >> 4) % STACK_SIZE & ~7ULL);
			else
				v = (uint64_t)seed * 0x9e3779b97f4a7c15ULL;
			memcpy(f->stack + i, &v, 8);
		}
		uint64_t sp = STACK + ((seed >> 8) % STACK_SIZE & ~7ULL);
		int n = run(f, FN(seed % 14) + 4, sp, STACK + 0x100, fr, 64, &end, detail);
		ck_assert_int_ge(n, 1);
		ck_assert_int_le(n, 64);
		ck_assert_int_ge(end, KVMDCI_UNWIND_END_OF_STACK);
		ck_assert_int_le(end, KVMDCI_UNWIND_DEPTH);
	}
	free(f);
}
END_TEST

START_TEST(decode_versions)
{
	struct orc_entry e;
	/* sp_offset 0x10, bp_offset -16, sp_reg SP, bp_reg PREV_SP */
	uint8_t raw[6] = {0x10, 0x00, 0xf0, 0xff, 0x15, 0x00};

	raw[5] = 0x00; /* v1: type CALL (0) */
	orc_decode(raw, 1, &e);
	ck_assert_int_eq(e.type, ORC_TYPE_CALL);
	ck_assert_int_eq(e.sp_reg, ORC_REG_SP);
	ck_assert_int_eq(e.bp_reg, ORC_REG_PREV_SP);
	ck_assert_int_eq(e.sp_offset, 16);
	ck_assert_int_eq(e.bp_offset, -16);
	ck_assert_int_eq(e.signal, 0);
	raw[5] = 0x01; /* v1: REGS implies signal */
	orc_decode(raw, 1, &e);
	ck_assert_int_eq(e.type, ORC_TYPE_REGS);
	ck_assert_int_eq(e.signal, 1);
	raw[4] = 0x00;
	raw[5] = 0x04; /* v1: sp_reg undefined + end */
	orc_decode(raw, 1, &e);
	ck_assert_int_eq(e.type, ORC_TYPE_END_OF_STACK);
	raw[5] = 0x00; /* v1: sp_reg undefined, no end: undefined */
	orc_decode(raw, 1, &e);
	ck_assert_int_eq(e.type, ORC_TYPE_UNDEFINED);
	raw[5] = 0x08; /* v2: end moved to bit 11 */
	orc_decode(raw, 2, &e);
	ck_assert_int_eq(e.type, ORC_TYPE_END_OF_STACK);
	raw[4] = 0x15;
	raw[5] = 0x04; /* v2: CALL with signal */
	orc_decode(raw, 2, &e);
	ck_assert_int_eq(e.type, ORC_TYPE_CALL);
	ck_assert_int_eq(e.signal, 1);
	raw[5] = 0x0b; /* v3: REGS (3) + signal */
	orc_decode(raw, 3, &e);
	ck_assert_int_eq(e.type, ORC_TYPE_REGS);
	ck_assert_int_eq(e.signal, 1);
	/* struct orc_entry's bitfield as each format declares it (orc_types.h): v1 type:2 end:1,
	 * v2 type:2 signal:1 end:1, v3 type:3 signal:1 */
	ck_assert_int_eq(orc_version_from_layout(false, true, 2), 1);
	ck_assert_int_eq(orc_version_from_layout(true, true, 2), 2);
	ck_assert_int_eq(orc_version_from_layout(true, false, 3), 3);
	ck_assert_int_eq(orc_version_from_layout(false, false, 3), -1);
}
END_TEST

START_TEST(table_lookup)
{
	struct fake *f = fake_new();
	struct orc_entry e;

	ck_assert_int_eq(orc_table_find(&f->tab, FN(0) - 1, &e), -ENOENT);
	ck_assert_int_eq(orc_table_find(&f->tab, FN(9) + 0x80, &e), 0);
	ck_assert_int_eq(e.type, ORC_TYPE_REGS);
	ck_assert_int_eq(orc_table_find(&f->tab, FN(6), &e), 0);
	ck_assert_int_eq(e.type, ORC_TYPE_END_OF_STACK);
	/* an unsorted table is refused */
	int32_t t = f->rel[2];
	f->rel[2] = f->rel[3] + 4 + 0x300;
	ck_assert_int_eq(orc_table_finish(&f->tab), -EINVAL);
	f->rel[2] = t;
	free(f);
}
END_TEST

/* The pt_regs layout we assume is the kernel's (the lab's vmlinux BTF, when given). */
START_TEST(regs_layout_matches_btf)
{
	const char *path = getenv("KVMDCI_VMLINUX");
	struct orc_regs_layout L;
	struct ktypes_loc loc;

	if (!path || !*path)
		return;
	struct btf *lb = btf__parse(path, NULL);
	if (!lb)
		return;
	struct kbtf *btf = kbtf_wrap(lb, true);
	ck_assert_ptr_nonnull(btf);
	int32_t id = btf__find_by_name_kind(lb, "pt_regs", BTF_KIND_STRUCT);
	ck_assert_int_gt(id, 0);
	orc_regs_layout_default(&L);
	struct {
		const char *name;
		uint32_t off;
	} f[] = {{"r13", L.r13}, {"r10", L.r10}, {"bp", L.bp}, {"dx", L.dx},
		 {"di", L.di},	 {"ip", L.ip},	 {"cs", L.cs}, {"sp", L.sp}};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		ck_assert_int_eq(ktypes_resolve_path(btf, id, f[i].name, &loc), 0);
		ck_assert_uint_eq(loc.bit_offset / 8, f[i].off);
	}
	ck_assert_int_eq(ktypes_size(btf, id), L.size);
	kbtf_free(btf);
}
END_TEST

static Suite *unwind_suite(void)
{
	Suite *s = suite_create("unwind");
	TCase *tc = tcase_create("orc");
	tcase_add_test(tc, good_stack_to_end);
	tcase_add_test(tc, user_mode_regs_end);
	tcase_add_test(tc, corrupt_return_address);
	tcase_add_test(tc, bad_orc_entries);
	tcase_add_test(tc, unreadable_stack);
	tcase_add_test(tc, loops_end);
	tcase_add_test(tc, depth_and_read_bounds);
	tcase_add_test(tc, frame_pointer_guess);
	tcase_add_test(tc, random_garbage_terminates);
	tcase_add_test(tc, decode_versions);
	tcase_add_test(tc, table_lookup);
	tcase_add_test(tc, regs_layout_matches_btf);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(unwind_suite);
