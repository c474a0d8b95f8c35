/* RFC 2347 option negotiation: strict parsing of values (plain decimal,
 * bounded), first occurrence wins, anything odd is ignored rather than
 * trusted. */
#include "autoconfig.h"

#include "options.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

unsigned options_bit(const char *name)
{
	if (strcasecmp(name, "blksize") == 0)
		return OPTION_BLKSIZE;
	if (strcasecmp(name, "timeout") == 0)
		return OPTION_TIMEOUT;
	if (strcasecmp(name, "tsize") == 0)
		return OPTION_TSIZE;
	if (strcasecmp(name, "windowsize") == 0)
		return OPTION_WINDOWSIZE;
	return 0;
}

/* A plain decimal number: digits only, no sign, no spaces, no junk, and a
 * value that fits 64 bits (leading zeros are digits like any other, as
 * strtoull takes them).  Returns 0 or -1. */
static int parse_decimal(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s[0] == '\0')
		return -1;
	for (i = 0; s[i]; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

void options_negotiate(const struct tftp_request *req,
		       const struct options_limits *lim,
		       struct options_accepted *out)
{
	struct packet_option_iter it;
	const char *name, *value;
	unsigned seen = 0;

	memset(out, 0, sizeof(*out));
	out->blksize = TFTP_BLKSIZE_DEFAULT;
	out->windowsize = 1;
	packet_options_begin(&it, req);
	while (packet_options_next(&it, &name, &value) == 1) {
		unsigned bit = options_bit(name);
		uint64_t v;

		if (!bit || (seen & bit))
			continue; /* unknown, or a duplicate: first one wins */
		seen |= bit;
		if ((lim->refused & bit) || parse_decimal(value, &v) != 0)
			continue;
		switch (bit) {
		case OPTION_BLKSIZE: /* RFC 2348: 8..65464 */
			if (v < 8)
				continue;
			if (v > lim->max_blksize)
				v = lim->max_blksize;
			out->blksize = (unsigned)v;
			break;
		case OPTION_TIMEOUT: /* RFC 2349: 1..255 seconds */
			if (v < 1 || v > OPTIONS_TIMEOUT_MAX)
				continue;
			out->timeout = (unsigned)v;
			break;
		case OPTION_TSIZE:
			out->tsize = v;
			break;
		case OPTION_WINDOWSIZE: /* RFC 7440: 1..65535 */
			if (v < 1 || v > OPTIONS_WINDOWSIZE_MAX)
				continue;
			if (v > lim->max_windowsize)
				v = lim->max_windowsize;
			if (v > OPTIONS_WINDOWSIZE_GRANT_MAX)
				v = OPTIONS_WINDOWSIZE_GRANT_MAX;
			out->windowsize = (unsigned)v;
			break;
		}
		out->present |= bit;
	}
}

/* Append "name\0value\0" at *len; returns -1 when it does not fit. */
static int put_pair(unsigned char *b, size_t cap, size_t *len, const char *name,
		    uint64_t value)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
	size_t nl = strlen(name);

	if (n < 0 || *len + nl + 1 + (size_t)n + 1 > cap)
		return -1;
	memcpy(b + *len, name, nl + 1);
	*len += nl + 1;
	memcpy(b + *len, num, (size_t)n + 1);
	*len += (size_t)n + 1;
	return 0;
}

size_t options_build_oack(void *buf, size_t cap,
			  const struct options_accepted *acc, uint64_t tsize)
{
	unsigned char *b = buf;
	size_t len = 2;

	if (!acc->present || cap < 2)
		return 0;
	b[0] = 0;
	b[1] = TFTP_OACK;
	if (((acc->present & OPTION_BLKSIZE) &&
	     put_pair(b, cap, &len, "blksize", acc->blksize) != 0) ||
	    ((acc->present & OPTION_TIMEOUT) &&
	     put_pair(b, cap, &len, "timeout", acc->timeout) != 0) ||
	    ((acc->present & OPTION_TSIZE) &&
	     put_pair(b, cap, &len, "tsize", tsize) != 0) ||
	    ((acc->present & OPTION_WINDOWSIZE) &&
	     put_pair(b, cap, &len, "windowsize", acc->windowsize) != 0))
		return 0;
	return len;
}
