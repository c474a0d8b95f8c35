/* Fuzz target: the file name policy (path_normalize), which stands between
 * a requested name and the file system.  Input layout:
 *   byte 0      the root: 0-5 pick a canonical root from the table below,
 *               anything else takes it from the input ("/" + the next
 *               byte-count bytes, so roots that prefix the name are found)
 *   bytes 1-2   the output buffer size, 0..8191 bytes
 *   the rest    the requested name (any bytes, NULs included)
 * Checked: a result never has a ".." component, never starts with "/",
 * never has an empty or "." component, fits its buffer, is normalised
 * already (a second pass leaves it alone); and the verdict is the one the
 * rules in path.h give, worked out again here. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "path.h"

static const char *const roots[] = {
	"/", "/srv/tftp", "/srv/tftp/", "/tftpboot", "/a", "/srv//tftp",
};

/* The verdict of path.h's rules for name (namelen bytes) under root, with
 * the normalised name's length in *outlen, or for PATH_TRAVERSAL the length
 * written before the first ".." was met.  Splits at each slash in turn. */
static enum path_result expected(const char *root, const char *name,
				 size_t namelen, char *out, size_t *outlen)
{
	const char *p = name, *end = name + namelen;
	size_t o = 0, rlen = strlen(root);

	*outlen = 0;
	out[0] = '\0';
	if (memchr(name, '\0', namelen))
		return PATH_BAD_BYTE;
	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	/* The root's own spelling, then a slash, is dropped. */
	if (rlen > 0 && namelen > rlen && memcmp(name, root, rlen) == 0 &&
	    name[rlen] == '/')
		p += rlen;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *stop = slash ? slash : end;
		size_t len = (size_t)(stop - p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return PATH_TRAVERSAL;
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			o += (size_t)snprintf(out + o, len + 2, "%s%.*s",
					      o ? "/" : "", (int)len, p);
			*outlen = o;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	return o == 0 ? PATH_EMPTY : PATH_OK;
}

/* The invariants of a path_normalize result, whatever the name was. */
static void check_result(const char *out, size_t outsz, size_t namelen)
{
	size_t len = strnlen(out, outsz), i = 0;

	FUZZ_CHECK(len < outsz && len > 0 && len <= namelen);
	FUZZ_CHECK(out[0] != '/');
	while (i < len) {
		size_t start = i;
		while (i < len && out[i] != '/')
			i++;
		FUZZ_CHECK(i > start); /* no empty component: no "//" */
		FUZZ_CHECK(!(i - start == 1 && out[start] == '.'));
		FUZZ_CHECK(!(i - start == 2 && out[start] == '.' &&
			     out[start + 1] == '.'));
		if (i < len)
			FUZZ_CHECK(++i < len); /* no trailing "/" */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char rootbuf[257], *out, *again, *model;
	const char *root, *name;
	size_t outsz, namelen, mlen, rest = size;
	enum path_result r, want;

	if (size < 3)
		return 0;
	outsz = fuzz_get16(data + 1) & 8191u;
	rest -= 3;
	if (data[0] < sizeof(roots) / sizeof(roots[0])) {
		root = roots[data[0]];
		name = (const char *)data + 3;
	} else {
		size_t rlen = data[0] < rest ? data[0] : rest;
		rootbuf[0] = '/';
		memcpy(rootbuf + 1, data + 3, rlen);
		rootbuf[1 + rlen] = '\0'; /* a NUL inside just ends it early */
		root = rootbuf;
		name = (const char *)data + 3 + rlen;
		rest -= rlen;
	}
	namelen = rest;

	/* The name in a buffer of its own length and the result in one of
	 * exactly outsz bytes: a read or write past either is an ASan
	 * report. */
	{
		char *copy = malloc(namelen ? namelen : 1);
		FUZZ_CHECK(copy != NULL);
		memcpy(copy, name, namelen);
		name = copy;
	}
	out = malloc(outsz ? outsz : 1);
	model = malloc(namelen + 2);
	FUZZ_CHECK(out != NULL && model != NULL);

	r = path_normalize(root, name, namelen, out, outsz);
	want = expected(root, name, namelen, model, &mlen);
	FUZZ_CHECK(path_result_message(r) != NULL);
	if (outsz == 0) {
		FUZZ_CHECK(r == PATH_TOO_LONG);
	} else if (want == PATH_OK) {
		/* Refused only when it does not fit. */
		FUZZ_CHECK(mlen + 1 <= outsz ? r == PATH_OK
					     : r == PATH_TOO_LONG);
	} else if (want == PATH_TRAVERSAL) {
		/* Refused either way; "too long" when what came before the
		 * ".." did not fit already. */
		FUZZ_CHECK(mlen + 1 <= outsz ? r == PATH_TRAVERSAL
					     : r == PATH_TOO_LONG);
	} else {
		FUZZ_CHECK(r == want);
	}

	if (r == PATH_OK) {
		check_result(out, outsz, namelen);
		FUZZ_CHECK(strcmp(out, model) == 0);
		/* Normalised already: a second pass changes nothing. */
		again = malloc(outsz);
		FUZZ_CHECK(again != NULL);
		FUZZ_CHECK(path_normalize(root, out, strlen(out), again,
					  outsz) == PATH_OK &&
			   strcmp(again, out) == 0);
		free(again);
	}
	free(out);
	free(model);
	free((char *)name);
	return 0;
}
