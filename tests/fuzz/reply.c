/* Fuzz target: decoding what a client sends during a transfer
 * (packet_parse_reply: DATA, ACK, ERROR, RFC 1350 section 5), and the
 * encoders of what ctftpd sends back (ERROR, ACK, DATA header), decoded
 * again.  The input is the datagram; its last byte also picks the buffer
 * size an ERROR is encoded into, to reach the cut-to-fit cases. */
#include "autoconfig.h"

#include <string.h>

#include "fuzz.h"
#include "packet.h"

static void check_decode(const uint8_t *data, size_t size)
{
	struct tftp_packet pkt;
	const char *why = NULL;
	unsigned opcode = size >= 2 ? fuzz_get16(data) : 0;
	int known = opcode == TFTP_DATA || opcode == TFTP_ACK ||
		    opcode == TFTP_ERROR;
	const char *nul;

	if (packet_parse_reply(data, size, &pkt, &why) != 0) {
		FUZZ_CHECK(size < 4 || !known);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		return;
	}
	FUZZ_CHECK(size >= 4 && known);
	FUZZ_CHECK((unsigned)pkt.opcode == opcode);
	switch (opcode) {
	case TFTP_ACK:
		FUZZ_CHECK(pkt.block == fuzz_get16(data + 2));
		break;
	case TFTP_DATA:
		FUZZ_CHECK(pkt.block == fuzz_get16(data + 2));
		FUZZ_CHECK(pkt.data == data + 4 && pkt.data_len == size - 4);
		break;
	case TFTP_ERROR:
		FUZZ_CHECK(pkt.error_code == fuzz_get16(data + 2));
		/* The message is the datagram's own when its NUL is inside,
		 * else empty: never a string that runs off the end. */
		nul = memchr(data + 4, '\0', size - 4);
		if (nul)
			FUZZ_CHECK(pkt.error_msg == (const char *)data + 4);
		else
			FUZZ_CHECK(pkt.error_msg != NULL &&
				   pkt.error_msg[0] == '\0' &&
				   ((const uint8_t *)pkt.error_msg < data ||
				    (const uint8_t *)pkt.error_msg >=
					    data + size));
		break;
	}
}

/* Encode an ERROR with code and msg into exactly cap bytes of heap (so an
 * overrun is an ASan report), then decode it. */
static void check_error_encoding(uint16_t code, const char *msg, size_t cap)
{
	uint8_t *buf = malloc(cap ? cap : 1);
	const char *text = msg ? msg : packet_error_message(code);
	size_t want, n;
	struct tftp_packet pkt;
	const char *why;

	FUZZ_CHECK(buf != NULL);
	/* Without a message, every code has a standard one. */
	FUZZ_CHECK(text != NULL && (msg || text[0] != '\0'));
	n = packet_build_error(buf, cap, code, msg);
	if (cap < 5) {
		FUZZ_CHECK(n == 0);
		free(buf);
		return;
	}
	want = strlen(text);
	if (want > cap - 5)
		want = cap - 5; /* cut to fit, NUL kept */
	FUZZ_CHECK(n == 5 + want && n <= cap);
	FUZZ_CHECK(packet_parse_reply(buf, n, &pkt, &why) == 0);
	FUZZ_CHECK(pkt.opcode == TFTP_ERROR && pkt.error_code == code);
	FUZZ_CHECK(strlen(pkt.error_msg) == want &&
		   memcmp(pkt.error_msg, text, want) == 0);
	free(buf);
}

static void check_ack_and_data(uint16_t block)
{
	uint8_t buf[4];
	struct tftp_packet pkt;
	const char *why;

	FUZZ_CHECK(packet_build_ack(buf, block) == 4);
	FUZZ_CHECK(packet_parse_reply(buf, 4, &pkt, &why) == 0);
	FUZZ_CHECK(pkt.opcode == TFTP_ACK && pkt.block == block);
	packet_build_data_header(buf, block);
	FUZZ_CHECK(packet_parse_reply(buf, 4, &pkt, &why) == 0);
	FUZZ_CHECK(pkt.opcode == TFTP_DATA && pkt.block == block &&
		   pkt.data_len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t code = 0;
	char *msg;
	size_t cap;

	check_decode(data, size);
	FUZZ_CHECK(packet_opcode_name(size >= 2 ? fuzz_get16(data) : 0) !=
		   NULL);

	/* The same bytes as an ERROR to send: code from bytes 2-3, message
	 * from byte 4 on (up to a NUL), buffer 0..765 bytes. */
	if (size >= 4)
		code = (uint16_t)fuzz_get16(data + 2);
	msg = calloc(1, size > 4 ? size - 4 + 1 : 1);
	FUZZ_CHECK(msg != NULL);
	if (size > 4)
		memcpy(msg, data + 4, size - 4);
	cap = size ? (size_t)data[size - 1] * 3 : 0;
	check_error_encoding(code, msg, cap);
	check_error_encoding(code, NULL, cap);
	free(msg);
	check_ack_and_data(code);
	return 0;
}
