// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Transports and the dump/kcore backends without a lab: serial:// over a pty (raw bytes both
 * ways, lock, not-a-tty, bad speed, peer gone), usb:// with no such device, kcore:// on a
 * file laid out as /proc/kcore is, and kdump files whose headers lie.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <pty.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libkvmdci/libkvmdci.h"
#include "target/transport.h"
#include "target/uri.h"
#include "test-common.h"

static struct kvmdci_ctx *quiet_ctx(void)
{
	struct kvmdci_ctx *ctx;
	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	kvmdci_ctx_set_log_priority(ctx, 0);
	return ctx;
}

static int open_uri(struct kvmdci_ctx *ctx, const char *uri, struct transport **tr)
{
	struct target_uri u;
	char err[600];
	int r = target_uri_parse(uri, &u, err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	return transport_open(ctx, &u, tr);
}

START_TEST(serial_pty_raw)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct transport *tr, *tr2;
	int master, slave;
	char name[256], uri[300], buf[64];
	/* bytes a cooked tty would eat or change: CR, ^C, ^D, DEL, ^S */
	static const char bytes[] = "$qSupported#37\r\n\x03\x04\x7f\x13+";

	ck_assert_int_eq(openpty(&master, &slave, name, NULL, NULL), 0);
	close(slave);
	snprintf(uri, sizeof(uri), "serial://%s?baud=115200", name);
	ck_assert_int_eq(open_uri(ctx, uri, &tr), 0);
	ck_assert_int_eq(transport_write(tr, bytes, sizeof(bytes) - 1), 0);
	ssize_t n = 0;
	for (int i = 0; i < 50 && n < (ssize_t)sizeof(bytes) - 1; i++) {
		ssize_t k = read(master, buf + n, sizeof(buf) - (size_t)n);
		if (k > 0)
			n += k;
	}
	ck_assert_int_eq(n, sizeof(bytes) - 1);
	ck_assert(!memcmp(buf, bytes, sizeof(bytes) - 1));
	ck_assert_int_eq(write(master, bytes, sizeof(bytes) - 1), sizeof(bytes) - 1);
	n = 0;
	for (int i = 0; i < 50 && n < (ssize_t)sizeof(bytes) - 1; i++) {
		ssize_t k = transport_read(tr, buf + n, sizeof(buf) - (size_t)n, 100);
		ck_assert_int_ge(k, 0);
		n += k;
	}
	ck_assert_int_eq(n, sizeof(bytes) - 1);
	ck_assert(!memcmp(buf, bytes, sizeof(bytes) - 1));
	/* nothing more: a timeout is 0, not an error */
	ck_assert_int_eq(transport_read(tr, buf, sizeof(buf), 50), 0);
	/* a second debugger on the same line is refused */
	ck_assert_int_eq(open_uri(ctx, uri, &tr2), -EBUSY);
	/* the other end goes away: -EPIPE with a reason */
	close(master);
	ck_assert_int_eq(transport_read(tr, buf, sizeof(buf), 1000), -EPIPE);
	ck_assert(tr->why[0]);
	transport_close(tr);
	kvmdci_ctx_unref(ctx);
}
END_TEST

START_TEST(serial_errors)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct transport *tr;
	int master, slave;
	char name[256], uri[300];

	ck_assert_int_eq(open_uri(ctx, "serial:///dev/null", &tr), -ENOTTY);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "not a tty"));
	ck_assert_int_eq(open_uri(ctx, "serial:///nonexistent/ttyX", &tr), -ENOENT);
	ck_assert_int_eq(openpty(&master, &slave, name, NULL, NULL), 0);
	snprintf(uri, sizeof(uri), "serial://%s?baud=12345", name);
	ck_assert_int_eq(open_uri(ctx, uri, &tr), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "baud"));
	close(master);
	close(slave);
	kvmdci_ctx_unref(ctx);
}
END_TEST

START_TEST(usb_absent)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct transport *tr;
	int r = open_uri(ctx, "usb://1d6b:0010?serial=none-such", &tr);

	/* no device (or no USB at all here): a clear error, never a hang */
	ck_assert_msg(r == -ENODEV || r == -EIO || r == -EACCES || r == -ENOENT, "r=%d", r);
	if (r == -ENODEV)
		ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "no USB device 1d6b:0010"));
	r = open_uri(ctx, "usb://class=dc/02/01", &tr);
	ck_assert_int_lt(r, 0);
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* A file laid out as /proc/kcore: one PT_LOAD for the direct map (vaddr and paddr), one for
 * vmalloc space (paddr -1), and a VMCOREINFO note. */
static void write_kcore(const char *path)
{
	static const char info[] = "OSRELEASE=6.1.0-test\nKERNELOFFSET=1e000000\n";
	uint8_t note[12 + 12 + 48] = { 0 };
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[3] = { 0 };
	uint8_t page[8192];
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	size_t off = sizeof(eh) + sizeof(ph);

	ck_assert_int_ge(fd, 0);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 3;
	uint32_t nh[3] = { 11, sizeof(info) - 1, 0 };
	memcpy(note, nh, 12);
	memcpy(note + 12, "VMCOREINFO", 11);
	memcpy(note + 24, info, sizeof(info) - 1);
	ph[0] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = off, .p_filesz = sizeof(note) };
	off = 4096;
	ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = off, .p_vaddr = 0xffff888000100000ULL,
			      .p_paddr = 0x100000, .p_filesz = 4096, .p_memsz = 4096 };
	ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = off + 4096,
			      .p_vaddr = 0xffffc90000000000ULL, .p_paddr = UINT64_MAX,
			      .p_filesz = 4096, .p_memsz = 4096 };
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 7 + (i >> 12));
	ck_assert_int_eq(pwrite(fd, &eh, sizeof(eh), 0), sizeof(eh));
	ck_assert_int_eq(pwrite(fd, ph, sizeof(ph), sizeof(eh)), sizeof(ph));
	ck_assert_int_eq(pwrite(fd, note, sizeof(note), (off_t)ph[0].p_offset), sizeof(note));
	ck_assert_int_eq(pwrite(fd, page, sizeof(page), (off_t)off), sizeof(page));
	close(fd);
}

START_TEST(kcore_file)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct kvmdci_target *t;
	char path[] = "/tmp/kvmdci-kcore-XXXXXX", uri[64];
	uint8_t a[16], b[16];
	uint64_t v;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	write_kcore(path);
	snprintf(uri, sizeof(uri), "kcore://%s", path);
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), 0);
	ck_assert_int_eq(kvmdci_target_read_virt(t, 0, 0xffff888000100010ULL, a, 16), 0);
	ck_assert_int_eq(kvmdci_target_read_phys(t, 0x100010, b, 16), 0);
	ck_assert(!memcmp(a, b, 16));
	ck_assert_int_eq(a[0], (uint8_t)(16 * 7));
	ck_assert_int_eq(kvmdci_target_read_virt(t, 0, 0xffffc90000000000ULL, a, 16), 0);
	ck_assert_int_eq(a[1], (uint8_t)(4097 * 7 + 1));
	ck_assert_int_eq(kvmdci_target_read_phys(t, 0x200000, a, 16), -EFAULT);
	ck_assert_int_eq(kvmdci_target_read_virt(t, 0, 0xffffc90000000ff8ULL, a, 16), -EFAULT);
	ck_assert_int_eq(kvmdci_target_reg_read(t, 0, "cr3", &v), -ENOENT);
	ck_assert_int_eq(kvmdci_target_bp_insert(t, KVMDCI_BP_HW, 0xffffffff81000000ULL, 1),
			 -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "cannot run, stop or take "
								  "breakpoints"));
	ck_assert_int_eq(kvmdci_target_resume(t), -EOPNOTSUPP);
	kvmdci_target_unref(t);
	/* truncated in its program headers */
	ck_assert_int_eq(truncate(path, 100), 0);
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), path));
	unlink(path);
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -ENOENT);
	kvmdci_ctx_unref(ctx);
}
END_TEST

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void be64put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Dumps whose headers lie: each refused with the file and the offset named. */
START_TEST(kdump_lies)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct kvmdci_target *t;
	char path[] = "/tmp/kvmdci-kdump-XXXXXX", uri[64];
	static uint8_t f[4096 + 64];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(uri, sizeof(uri), "core://%s", path);
	/* flattened: a record that claims more bytes than the file has */
	memset(f, 0, sizeof(f));
	memcpy(f, "makedumpfile", 12);
	be64put(f + 16, 1);
	be64put(f + 24, 1);
	be64put(f + 4096, 0);
	be64put(f + 4104, 1ULL << 40);
	write_file(path, f, sizeof(f));
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), path));
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "file offset 0x1000"));
	/* flattened: a valid record, then no end marker */
	be64put(f + 4104, 16);
	write_file(path, f, 4096 + 32);
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "no end marker"));
	/* flattened, unknown version */
	be64put(f + 24, 2);
	write_file(path, f, sizeof(f));
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -EINVAL);
	/* diskdump with a block size of 3 */
	memset(f, 0, sizeof(f));
	memcpy(f, "KDUMP   ", 8);
	f[8] = 6;
	f[428] = 3;
	write_file(path, f, sizeof(f));
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "block_size 3 at file offset 428"));
	/* diskdump cut inside its header */
	write_file(path, f, 100);
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "truncated"));
	/* diskdump whose notes lie past the end */
	f[428] = 0;
	f[429] = 0x10; /* block_size 4096 */
	uint64_t note_off = 1ULL << 50, note_size = 64;
	memcpy(f + 4096 + 48, &note_off, 8); /* kdump_sub_header at block 1: offset_note */
	memcpy(f + 4096 + 56, &note_size, 8); /* size_note */
	write_file(path, f, sizeof(f));
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "past the end of the file"));
	/* diskdump whose header passes our checks: libkdumpfile (loaded with dlopen() at the
	 * first such dump, lib/target/dlib.h) opens it, and what it lacks is said after */
	note_off = 0;
	note_size = 0;
	memcpy(f + 4096 + 48, &note_off, 8);
	memcpy(f + 4096 + 56, &note_size, 8);
	write_file(path, f, sizeof(f));
	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "no CPU registers"));
	unlink(path);
	kvmdci_ctx_unref(ctx);
}
END_TEST

static Suite *transport_suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("serial");
	tcase_add_test(tc, serial_pty_raw);
	tcase_add_test(tc, serial_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("usb");
	tcase_add_test(tc, usb_absent);
	suite_add_tcase(s, tc);
	tc = tcase_create("dumps");
	tcase_add_test(tc, kcore_file);
	tcase_add_test(tc, kdump_lies);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(transport_suite);
