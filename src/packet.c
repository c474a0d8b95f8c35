/* Encoding and decoding of TFTP datagrams.  Every length is checked before a
 * byte is read; strings are only trusted once their NUL has been found inside
 * the datagram. */
#include "autoconfig.h"

#include "packet.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)(v & 0xff);
}

/* Length of the NUL-terminated string at p, or -1 when no NUL comes before
 * end. */
static long string_in(const char *p, const char *end)
{
	const char *nul = memchr(p, '\0', (size_t)(end - p));
	return nul ? (long)(nul - p) : -1;
}

static enum tftp_mode mode_from_name(const char *name)
{
	/* RFC 1350: "any combination of upper and lower case". */
	if (strcasecmp(name, "octet") == 0)
		return TFTP_MODE_OCTET;
	if (strcasecmp(name, "netascii") == 0)
		return TFTP_MODE_NETASCII;
	if (strcasecmp(name, "mail") == 0)
		return TFTP_MODE_MAIL;
	return TFTP_MODE_UNKNOWN;
}

int packet_parse_request(const void *buf, size_t len, struct tftp_request *req,
			 const char **why)
{
	const unsigned char *b = buf;
	const char *p, *end;
	long n;

	if (len < 2) {
		*why = "datagram shorter than an opcode";
		return -1;
	}
	switch (get16(b)) {
	case TFTP_RRQ:
		req->opcode = TFTP_RRQ;
		break;
	case TFTP_WRQ:
		req->opcode = TFTP_WRQ;
		break;
	default:
		*why = "not a request (opcode is neither RRQ nor WRQ)";
		return -1;
	}
	p = (const char *)b + 2;
	end = (const char *)b + len;

	n = string_in(p, end);
	if (n < 0) {
		*why = "file name is not NUL-terminated";
		return -1;
	}
	req->filename = p;
	req->filename_len = (size_t)n;
	p += n + 1;

	n = string_in(p, end);
	if (n < 0) {
		*why = "mode is missing or not NUL-terminated";
		return -1;
	}
	if (n == 0) {
		*why = "mode is empty";
		return -1;
	}
	req->mode_name = p;
	req->mode = mode_from_name(p);
	p += n + 1;

	req->options = p;
	req->options_len = (size_t)(end - p);
	return 0;
}

void packet_options_begin(struct packet_option_iter *it,
			  const struct tftp_request *req)
{
	it->next = req->options;
	it->end = req->options + req->options_len;
}

int packet_options_next(struct packet_option_iter *it, const char **name,
			const char **value)
{
	long nlen, vlen;

	if (it->next >= it->end)
		return 0;
	nlen = string_in(it->next, it->end);
	if (nlen < 0)
		goto malformed;
	vlen = string_in(it->next + nlen + 1, it->end);
	if (vlen < 0)
		goto malformed;
	*name = it->next;
	*value = it->next + nlen + 1;
	it->next += nlen + 1 + vlen + 1;
	return 1;
malformed:
	it->next = it->end;
	return -1;
}

int packet_parse_reply(const void *buf, size_t len, struct tftp_packet *pkt,
		       const char **why)
{
	const unsigned char *b = buf;

	if (len < 4) {
		*why = "datagram shorter than 4 bytes";
		return -1;
	}
	pkt->opcode = (enum tftp_opcode)get16(b);
	switch (get16(b)) {
	case TFTP_ACK:
		pkt->block = get16(b + 2);
		return 0;
	case TFTP_DATA:
		pkt->block = get16(b + 2);
		pkt->data = b + 4;
		pkt->data_len = len - 4;
		return 0;
	case TFTP_ERROR:
		pkt->error_code = get16(b + 2);
		if (len > 4 && memchr(b + 4, '\0', len - 4))
			pkt->error_msg = (const char *)b + 4;
		else
			pkt->error_msg = "";
		return 0;
	default:
		*why = "unexpected opcode";
		return -1;
	}
}

size_t packet_build_error(void *buf, size_t cap, uint16_t code, const char *msg)
{
	unsigned char *b = buf;
	size_t mlen;

	if (cap < 5)
		return 0;
	if (!msg)
		msg = packet_error_message(code);
	mlen = strlen(msg);
	if (mlen > cap - 5)
		mlen = cap - 5;
	put16(b, TFTP_ERROR);
	put16(b + 2, code);
	memcpy(b + 4, msg, mlen);
	b[4 + mlen] = '\0';
	return 5 + mlen;
}

void packet_build_data_header(void *buf, uint16_t block)
{
	put16(buf, TFTP_DATA);
	put16((unsigned char *)buf + 2, block);
}

size_t packet_build_ack(void *buf, uint16_t block)
{
	put16(buf, TFTP_ACK);
	put16((unsigned char *)buf + 2, block);
	return 4;
}

const char *packet_error_message(uint16_t code)
{
	switch (code) {
	case TFTP_ENOTFOUND:
		return "File not found";
	case TFTP_EACCESS:
		return "Access violation";
	case TFTP_ENOSPACE:
		return "Disk full or allocation exceeded";
	case TFTP_EBADOP:
		return "Illegal TFTP operation";
	case TFTP_EBADID:
		return "Unknown transfer ID";
	case TFTP_EEXISTS:
		return "File already exists";
	case TFTP_ENOUSER:
		return "No such user";
	case TFTP_EOPTNEG:
		return "Option negotiation failed";
	default:
		return "Undefined error";
	}
}

const char *packet_opcode_name(unsigned opcode)
{
	static const char *const names[] = {
		"unknown", "RRQ", "WRQ", "DATA", "ACK", "ERROR", "OACK",
	};
	return opcode < sizeof(names) / sizeof(names[0]) ? names[opcode]
							 : "unknown";
}

const char *packet_mode_name(enum tftp_mode mode)
{
	switch (mode) {
	case TFTP_MODE_OCTET:
		return "octet";
	case TFTP_MODE_NETASCII:
		return "netascii";
	case TFTP_MODE_MAIL:
		return "mail";
	default:
		return "unknown";
	}
}

/* Append the n bytes at s to out (used bytes *o of outsz), printable ASCII
 * as is and anything else, quotes and backslashes as \xHH; a NUL is a
 * space, or with pairs alternately "=" and a space (OACK name=value).
 * Stops short of the end of out. */
static void describe_bytes(const uint8_t *s, size_t n, int pairs, char *out,
			   size_t outsz, size_t *o)
{
	static const char hex[] = "0123456789abcdef";
	char sep = pairs ? '=' : ' ';

	for (size_t i = 0; i < n && *o + 5 < outsz; i++) {
		uint8_t c = s[i];
		if (c == 0) {
			out[(*o)++] = sep;
			if (pairs)
				sep = sep == '=' ? ' ' : '=';
		} else if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out[(*o)++] = (char)c;
		} else {
			out[(*o)++] = '\\';
			out[(*o)++] = 'x';
			out[(*o)++] = hex[c >> 4];
			out[(*o)++] = hex[c & 15];
		}
	}
	out[*o] = '\0';
}

char *packet_describe(const void *head, size_t headlen, size_t total, char *out,
		      size_t outsz)
{
	const uint8_t *p = head;
	unsigned op, num;
	size_t o = 0;
	int n;

	if (headlen > total)
		headlen = total;
	op = headlen >= 2 ? (unsigned)(p[0] << 8 | p[1]) : 0;
	num = headlen >= 4 ? (unsigned)(p[2] << 8 | p[3]) : 0;
	switch (headlen >= 4 ? op : 0) {
	case TFTP_DATA:
		snprintf(out, outsz, "DATA %u, %zu bytes", num,
			 total - TFTP_DATA_HEADER);
		break;
	case TFTP_ACK:
		snprintf(out, outsz, "ACK %u", num);
		break;
	case TFTP_ERROR:
		n = snprintf(out, outsz, "ERROR %u \"", num);
		if (n > 0 && (size_t)n < outsz) {
			o = (size_t)n;
			/* The message, without its terminating NUL. */
			describe_bytes(
				p + 4,
				strnlen((const char *)p + 4, headlen - 4), 0,
				out, outsz, &o);
			if (o + 1 < outsz) {
				out[o++] = '"';
				out[o] = '\0';
			}
		}
		return out;
	case TFTP_OACK:
	case TFTP_RRQ:
	case TFTP_WRQ:
		n = snprintf(out, outsz, "%s ", packet_opcode_name(op));
		if (n > 0 && (size_t)n < outsz) {
			o = (size_t)n;
			/* name=value pairs (the name and mode of a request
			 * first); the last NUL is not shown. */
			describe_bytes(p + 2,
				       headlen - 2 -
					       (headlen > 2 && !p[headlen - 1]),
				       op == TFTP_OACK, out, outsz, &o);
		}
		return out;
	default:
		snprintf(out, outsz, "junk, %zu bytes", total);
		break;
	}
	return out;
}
