/* Fuzz target: option negotiation (options_negotiate, RFC 2347/2348/2349/
 * 7440) and the OACK it produces (options_build_oack).  Input layout:
 *   bytes 0-1   server's largest blksize, mapped onto 8..65464
 *   bytes 2-3   server's largest windowsize, mapped onto 1..65535
 *   byte  4     refused options (OPTION_* bits, low four bits)
 *   bytes 5-6   size of the OACK buffer, 0..1023 bytes
 *   bytes 7-14  the file size sent as tsize
 *   bytes 15-   an RRQ or WRQ datagram (inputs that do not decode are
 *               skipped: the request target covers the decoder)
 * The outcome is checked against the rules written out again here, and
 * the OACK against one built here byte by byte. */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "options.h"
#include "packet.h"

#define HEADER 15

static const char *const option_names[4] = {"blksize", "timeout", "tsize",
					    "windowsize"};
static const unsigned option_bits[4] = {OPTION_BLKSIZE, OPTION_TIMEOUT,
					OPTION_TSIZE, OPTION_WINDOWSIZE};

/* A value as RFC 2347 options carry it: decimal digits only.  Returns 0
 * and sets *v, or -1 for anything else or more than 64 bits. */
static int value_of(const char *s, uint64_t *v)
{
	unsigned long long n;
	char *end;

	if (s[0] == '\0' || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return -1;
	*v = n;
	return 0;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The value of the first option called name in req (names compared
 * without regard to case), or NULL when there is none. */
static const char *first_value(const struct tftp_request *req, const char *name)
{
	struct packet_option_iter it;
	const char *n, *v;

	packet_options_begin(&it, req);
	while (packet_options_next(&it, &n, &v) == 1)
		if (strcasecmp(n, name) == 0)
			return v;
	return NULL;
}

/* What should have been granted: for each known option, its first
 * occurrence decides (a refused or bad first one means none). */
static void expected(const struct tftp_request *req,
		     const struct options_limits *lim,
		     struct options_accepted *want)
{
	memset(want, 0, sizeof(*want));
	want->blksize = 512;
	want->windowsize = 1;
	for (int i = 0; i < 4; i++) {
		unsigned bit = option_bits[i];
		const char *value = first_value(req, option_names[i]);
		uint64_t v;

		if (!value || (lim->refused & bit) || value_of(value, &v) != 0)
			continue;
		if (bit == OPTION_BLKSIZE && v >= 8)
			want->blksize = (unsigned)min64(v, lim->max_blksize);
		else if (bit == OPTION_TIMEOUT && v >= 1 && v <= 255)
			want->timeout = (unsigned)v;
		else if (bit == OPTION_TSIZE)
			want->tsize = v;
		else if (bit == OPTION_WINDOWSIZE && v >= 1 && v <= 65535)
			want->windowsize = (unsigned)min64(
				min64(v, lim->max_windowsize), 32767);
		else
			continue;
		want->present |= bit;
	}
}

/* The OACK for acc, built here: opcode 6, then the present options in the
 * order blksize, timeout, tsize, windowsize.  Returns its length. */
static size_t expected_oack(const struct options_accepted *acc, uint64_t tsize,
			    char *out)
{
	const unsigned long long values[4] = {acc->blksize, acc->timeout, tsize,
					      acc->windowsize};
	size_t n = 2;

	out[0] = 0;
	out[1] = TFTP_OACK;
	for (int i = 0; i < 4; i++) {
		if (!(acc->present & option_bits[i]))
			continue;
		n += (size_t)snprintf(out + n, 32, "%s", option_names[i]) + 1;
		n += (size_t)snprintf(out + n, 32, "%llu", values[i]) + 1;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct options_limits lim;
	struct options_accepted acc, want;
	struct tftp_request req;
	const char *why;
	uint64_t tsize = 0;
	char oack_want[128];
	size_t cap, n, wlen;
	uint8_t *oack;

	if (size < HEADER ||
	    packet_parse_request(data + HEADER, size - HEADER, &req, &why) != 0)
		return 0;
	lim.max_blksize = 8 + fuzz_get16(data) % (TFTP_BLKSIZE_MAX - 8 + 1);
	lim.max_windowsize = 1 + fuzz_get16(data + 2) % OPTIONS_WINDOWSIZE_MAX;
	lim.refused = data[4] & 15u;
	cap = fuzz_get16(data + 5) & 1023u;
	for (int i = 0; i < 8; i++)
		tsize = tsize << 8 | data[7 + i];

	memset(&acc, 0xa5, sizeof(acc)); /* nothing left over is trusted */
	options_negotiate(&req, &lim, &acc);

	/* The bounds the transfer relies on, whatever was asked. */
	FUZZ_CHECK((acc.present & ~15u) == 0);
	FUZZ_CHECK((acc.present & lim.refused) == 0);
	FUZZ_CHECK(acc.blksize >= 8 && acc.blksize <= TFTP_BLKSIZE_MAX);
	FUZZ_CHECK(acc.blksize == 512 || acc.blksize <= lim.max_blksize);
	FUZZ_CHECK(acc.windowsize >= 1 &&
		   acc.windowsize <= lim.max_windowsize &&
		   acc.windowsize <= OPTIONS_WINDOWSIZE_GRANT_MAX);
	if (acc.present & OPTION_TIMEOUT)
		FUZZ_CHECK(acc.timeout >= 1 &&
			   acc.timeout <= OPTIONS_TIMEOUT_MAX);
	if (!(acc.present & OPTION_BLKSIZE))
		FUZZ_CHECK(acc.blksize == 512);
	if (!(acc.present & OPTION_WINDOWSIZE))
		FUZZ_CHECK(acc.windowsize == 1);

	/* And exactly what the rules grant. */
	expected(&req, &lim, &want);
	FUZZ_CHECK(acc.present == want.present);
	FUZZ_CHECK(acc.blksize == want.blksize);
	FUZZ_CHECK(acc.windowsize == want.windowsize);
	if (want.present & OPTION_TIMEOUT)
		FUZZ_CHECK(acc.timeout == want.timeout);
	if (want.present & OPTION_TSIZE)
		FUZZ_CHECK(acc.tsize == want.tsize);

	/* The OACK, into exactly cap bytes of heap: all of it or nothing. */
	oack = malloc(cap ? cap : 1);
	FUZZ_CHECK(oack != NULL);
	n = options_build_oack(oack, cap, &acc, tsize);
	wlen = expected_oack(&acc, tsize, oack_want);
	if (!acc.present || wlen > cap)
		FUZZ_CHECK(n == 0);
	else
		FUZZ_CHECK(n == wlen && memcmp(oack, oack_want, n) == 0);
	/* Every OACK ctftpd can build fits the 512 bytes the transfer gives
	 * it (src/transfer.c). */
	FUZZ_CHECK(wlen <= 512);
	free(oack);
	return 0;
}
