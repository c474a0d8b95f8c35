/* Reference conversions the tests check the real ones against: written the
 * obvious way, in one go, with no state to carry between blocks.  Shared by
 * the unit-test driver and the fuzz targets. */
#ifndef CTFTPD_TESTS_REFERENCE_H
#define CTFTPD_TESTS_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

/* The netascii form (RFC 1350 section 5: LF as CR LF, CR as CR NUL) of len
 * bytes at in, written to out (room for 2 * len bytes).  Returns its length
 * in bytes. */
static inline size_t reference_netascii(const uint8_t *in, size_t len,
					uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else if (in[i] == '\r') {
			out[o++] = '\r';
			out[o++] = '\0';
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

/* The file an upload of len bytes of netascii at in stands for, written
 * to out (room for len bytes): CR LF is LF, CR NUL is CR, and a CR before
 * anything else (or at the end) is kept as it is.  Returns its length in
 * bytes. */
static inline size_t reference_netascii_decode(const uint8_t *in, size_t len,
					       uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') {
			out[o++] = '\n';
			i++;
		} else if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\0') {
			out[o++] = '\r';
			i++;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

#endif
