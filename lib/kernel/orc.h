/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The x86-64 ORC unwinder, independent of where its tables and the stack come from: ORC
 * tables (an .orc_unwind_ip + .orc_unwind pair) and one unwind step at a time, reading
 * memory through a callback. Written after the kernel's arch/x86/kernel/unwind_orc.c and
 * arch/x86/include/asm/orc_types.h (6.1 and 6.12).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* orc_types.h: the base registers */
enum {
	ORC_REG_UNDEFINED = 0,
	ORC_REG_PREV_SP = 1,
	ORC_REG_DX = 2,
	ORC_REG_DI = 3,
	ORC_REG_BP = 4,
	ORC_REG_SP = 5,
	ORC_REG_R10 = 6,
	ORC_REG_R13 = 7,
	ORC_REG_BP_INDIRECT = 8,
	ORC_REG_SP_INDIRECT = 9,
};

/* Entry types as of 6.4 (format version 3); older formats are converted on decoding. */
enum {
	ORC_TYPE_UNDEFINED = 0,
	ORC_TYPE_END_OF_STACK = 1,
	ORC_TYPE_CALL = 2,
	ORC_TYPE_REGS = 3,
	ORC_TYPE_REGS_PARTIAL = 4,
};

#define ORC_ENTRY_SIZE 6

/* A decoded struct orc_entry. */
struct orc_entry {
	int16_t sp_offset;
	int16_t bp_offset;
	uint8_t sp_reg;
	uint8_t bp_reg;
	uint8_t type;
	uint8_t signal;
};

/*
 * One ORC table: entry i covers addresses from ip(i) up to ip(i+1), where
 * ip(i) = ip_base + 4 * i + rel[i] + bias (the 32-bit entries are relative to themselves).
 */
struct orc_table {
	char name[64];	  /* "vmlinux", or a module name */
	uint64_t ip_base; /* address of the first relative entry, as the table was linked */
	uint64_t bias;	  /* added to every ip: the KASLR offset for tables read from vmlinux */
	int32_t *rel;
	uint8_t *raw; /* ORC_ENTRY_SIZE bytes per entry */
	uint32_t n;
	int version;	      /* 1: up to 6.2, 2: 6.3, 3: 6.4+ */
	uint64_t first, last; /* lowest and highest ip of the table */
};

/* The ORC format version from the layout of the kernel's own struct orc_entry (its type info):
 * whether it has the members `signal` and `end`, and the bit width of `type`. -1 when the
 * layout is none of the known ones. */
int orc_version_from_layout(bool has_signal, bool has_end, unsigned int type_bits);
/* The format version from an .orc_header hash (6.4+), -1 when unknown. */
int orc_version_from_header(const uint8_t *hash, size_t len);
void orc_decode(const uint8_t *raw, int version, struct orc_entry *e);
/* Set first/last; -EINVAL when the table is not sorted by ip. */
int orc_table_finish(struct orc_table *t);
uint64_t orc_table_ip(const struct orc_table *t, uint32_t i);
/* The entry covering @ip: 0 and *e, or -ENOENT. */
int orc_table_find(const struct orc_table *t, uint64_t ip, struct orc_entry *e);
void orc_table_free(struct orc_table *t);

/* pt_regs offsets the unwinder needs (from type info, or the x86-64 layout). */
struct orc_regs_layout {
	uint32_t r13, r10, bp, dx, di, ip, cs, sp, size;
};
void orc_regs_layout_default(struct orc_regs_layout *l);

/* Where memory and ORC entries come from. */
struct orc_env {
	/* read target memory: 0 or -errno */
	int (*read)(void *data, uint64_t addr, void *buf, size_t len);
	/* the ORC entry for @ip: 0, or -ENOENT when no table covers it */
	int (*find)(void *data, uint64_t ip, struct orc_entry *e);
	/* is @ip kernel text (a plausible return address)? */
	bool (*is_text)(void *data, uint64_t ip);
	void *data;
	struct orc_regs_layout regs;
	unsigned int max_reads; /* bound on memory reads per unwind */
};

/* Unwind state between frames. */
struct orc_state {
	uint64_t ip, sp, bp;
	uint64_t regs;	    /* address of the last pt_regs frame, 0 when none */
	uint64_t prev_regs; /* a full pt_regs before a partial (iret) one */
	bool full_regs;
	bool signal;	/* ip is exact (first frame, after pt_regs), not a return address */
	bool guess;	/* the last step used the frame-pointer fallback */
	bool from_regs; /* the last step went through a pt_regs frame */
	unsigned int reads;
};

/* How a step ended. */
enum orc_step {
	ORC_STEP_OK = 0,
	ORC_STEP_END,	     /* end-of-stack marker */
	ORC_STEP_USER,	     /* the last pt_regs came from user mode */
	ORC_STEP_BAD_ORC,    /* undefined entry, unknown register or type */
	ORC_STEP_BAD_FRAME,  /* a register that is not known, stack going the wrong way, not text */
	ORC_STEP_UNREADABLE, /* memory could not be read, or the read bound was hit */
};

/* One step: from the frame in @s to its caller. @detail gets a reason on failure. */
enum orc_step orc_step(const struct orc_env *env, struct orc_state *s, char *detail,
		       size_t detail_size);

/* One frame found by orc_unwind(). */
struct orc_frame {
	uint64_t ip, sp, bp;
	bool regs;  /* reached through a pt_regs frame: ip is exact */
	bool guess; /* no ORC data for the callee: found by the frame-pointer fallback */
};

/*
 * Unwind from @s (the first frame: s->ip, s->sp, s->bp; s->signal set when ip is exact, as
 * for a stopped CPU) into up to @max frames, the first being @s itself. *end gets an enum
 * kvmdci_unwind_end and @detail the reason in words. Returns the number of frames.
 */
int orc_unwind(const struct orc_env *env, struct orc_state *s, struct orc_frame *frames, int max,
	       int *end, char *detail, size_t detail_size);
