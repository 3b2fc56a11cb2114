// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer: target URI parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[2048], err[700];
	struct target_uri u;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	target_uri_parse(s, &u, err, sizeof(err));
	return 0;
}
