// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer: the RSP decoder (framing, escapes, run-length, checksums) and what parses its
 * packets: stop replies, thread ids, hex. Input: raw bytes as a stub would send them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target/rsp-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[4096];
	struct rsp_decoder d = { .cap = sizeof(buf), .buf = buf };
	uint8_t bytes[2048];
	char hex[64];

	rsp_decoder_reset(&d);
	for (size_t i = 0; i < size; i++) {
		if (rsp_decoder_feed(&d, data[i]) != 1)
			continue;
		struct rsp_stop st;
		long pid, tid;
		uint64_t v;
		rsp_parse_stop(d.buf, d.len, &st);
		if (st.thread[0])
			rsp_parse_thread_id(st.thread, &pid, &tid);
		rsp_hex_decode(d.buf, d.len, bytes, sizeof(bytes));
		rsp_parse_hex_u64(d.buf, d.len < 16 ? d.len : 16, &v);
		rsp_hex_encode((const uint8_t *)d.buf, d.len < 31 ? d.len : 31, hex);
		char out[8300];
		rsp_frame(d.buf, d.len, out, sizeof(out));
	}
	return 0;
}
