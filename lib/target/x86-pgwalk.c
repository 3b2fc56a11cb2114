// SPDX-License-Identifier: LGPL-2.1-or-later
/* x86-64 paging (Intel SDM vol. 3 ch. 4.5): PML5/PML4 -> PDPT (1 GiB pages) -> PD (2 MiB
 * pages) -> PT; bits 51:12 of an entry hold the next table or the page frame. */
#include <errno.h>
#include <string.h>

#include "target/x86-pgwalk.h"

int x86_translate(phys_read_fn read, void *data, uint64_t cr3, bool la57, uint64_t va,
		  uint64_t *pa, uint64_t *page_left)
{
	const uint64_t mask = 0x000ffffffffff000ULL;
	uint64_t table = cr3 & mask, e;
	int levels = la57 ? 5 : 4;

	for (int l = levels; l >= 1; l--) {
		int shift = 12 + 9 * (l - 1);
		uint8_t b[8];
		int r = read(data, table + ((va >> shift) & 511) * 8, b, 8);
		if (r < 0)
			return r;
		memcpy(&e, b, 8);
		if (!(e & 1))
			return -EFAULT;
		if ((l == 3 || l == 2) && (e & 0x80)) {
			uint64_t size = 1ULL << shift;
			*pa = (e & mask & ~(size - 1)) | (va & (size - 1));
			*page_left = size - (va & (size - 1));
			return 0;
		}
		table = e & mask;
	}
	*pa = table | (va & 0xfff);
	*page_left = 0x1000 - (va & 0xfff);
	return 0;
}
