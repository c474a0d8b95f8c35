/* Fuzz target: RRQ/WRQ decoding (packet_parse_request) and the RFC 2347
 * option walk (packet_options_next), the first code to see a datagram on
 * the listening port.  The input is the datagram.  Every verdict is checked
 * against RFC 1350 section 5 as read here: an opcode of 1 or 2, a file name
 * and a non-empty mode, each ended by a NUL inside the datagram; the rest is
 * the option area, name/value pairs each ended by a NUL. */
#include "autoconfig.h"

#include <string.h>

#include "fuzz.h"
#include "packet.h"

/* The mode the bytes at name spell, compared without regard to case (RFC
 * 1350: "any combination of upper and lower case"). */
static enum tftp_mode expected_mode(const char *name)
{
	static const struct {
		const char *word;
		enum tftp_mode mode;
	} modes[] = {
		{"octet", TFTP_MODE_OCTET},
		{"netascii", TFTP_MODE_NETASCII},
		{"mail", TFTP_MODE_MAIL},
	};
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		const char *w = modes[m].word;
		size_t i = 0;
		while (w[i] && (name[i] | 0x20) == w[i])
			i++;
		if (w[i] == '\0' && name[i] == '\0')
			return modes[m].mode;
	}
	return TFTP_MODE_UNKNOWN;
}

/* Walk the option area: each pair lies inside it, back to back, each
 * string ended by its NUL; the walk ends exactly at the end of the area, or
 * reports -1 exactly when what is left is not a whole pair. */
static void check_options(const struct tftp_request *req)
{
	const char *area = req->options, *end = area + req->options_len;
	const char *cursor = area, *name, *value;
	struct packet_option_iter it;
	size_t pairs = 0;
	int rc;

	packet_options_begin(&it, req);
	while ((rc = packet_options_next(&it, &name, &value)) == 1) {
		size_t nlen, vlen;

		FUZZ_CHECK(name == cursor);
		nlen = strlen(name);
		FUZZ_CHECK(name + nlen < end);
		FUZZ_CHECK(value == name + nlen + 1);
		vlen = strlen(value);
		FUZZ_CHECK(value + vlen < end);
		cursor = value + vlen + 1;
		/* Every pair takes at least two bytes: the walk ends. */
		FUZZ_CHECK(++pairs <= req->options_len / 2);
	}
	if (rc == 0) {
		FUZZ_CHECK(cursor == end);
	} else {
		const char *nul;

		FUZZ_CHECK(rc == -1 && cursor < end);
		nul = memchr(cursor, '\0', (size_t)(end - cursor));
		FUZZ_CHECK(!nul ||
			   !memchr(nul + 1, '\0', (size_t)(end - nul - 1)));
	}
	/* Once ended, it stays ended. */
	FUZZ_CHECK(packet_options_next(&it, &name, &value) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data, *end = b + size;
	const char *name_nul = NULL, *mode_nul = NULL, *why = NULL;
	struct tftp_request req;
	unsigned opcode = size >= 2 ? fuzz_get16(data) : 0;
	int valid, rc;

	if (size >= 2)
		name_nul = memchr(b + 2, '\0', size - 2);
	if (name_nul)
		mode_nul = memchr(name_nul + 1, '\0',
				  (size_t)(end - name_nul - 1));
	valid = (opcode == TFTP_RRQ || opcode == TFTP_WRQ) && mode_nul &&
		mode_nul > name_nul + 1;

	rc = packet_parse_request(data, size, &req, &why);
	if (rc != 0) {
		/* Refused: only what RFC 1350 rules out, and with a reason
		 * for the log. */
		FUZZ_CHECK(rc == -1 && !valid);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(valid);
	FUZZ_CHECK((unsigned)req.opcode == opcode);
	FUZZ_CHECK(req.filename == b + 2);
	FUZZ_CHECK(req.filename_len == (size_t)(name_nul - (b + 2)));
	FUZZ_CHECK(strlen(req.filename) == req.filename_len);
	FUZZ_CHECK(req.mode_name == name_nul + 1);
	FUZZ_CHECK(req.mode == expected_mode(req.mode_name));
	FUZZ_CHECK(req.options == mode_nul + 1);
	FUZZ_CHECK(req.options + req.options_len == end);
	check_options(&req);
	return 0;
}
