/* The listener/child handoff words and the child's wake-up pipe.  The words
 * are C11 atomics in a MAP_SHARED mapping: lock-free atomics are address-free,
 * so they work between processes (checked at compile time below). */
#include "autoconfig.h"

#include "handoff.h"

#include "shmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(HAVE_PIPE2) && !HAVE_DECL_PIPE2
/* In the C library, declared by its header only for _GNU_SOURCE (glibc). */
int pipe2(int fd[2], int flags);
#endif

#if ATOMIC_INT_LOCK_FREE != 2
#error "ctftpd needs lock-free atomic int to share state between processes"
#endif

struct handoff {
	unsigned nslots;
	unsigned next;	    /* where the search for a free slot starts */
	atomic_uint *words; /* shared */
};

struct handoff *handoff_create(unsigned nslots)
{
	struct handoff *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->nslots = nslots;
	h->words = shmem_map((size_t)nslots * sizeof(*h->words));
	if (!h->words) {
		int saved = errno;
		free(h);
		errno = saved;
		return NULL;
	}
	return h;
}

int handoff_claim(struct handoff *h)
{
	/* Round robin from the last claim: a slot just released is reused
	 * last, so a late signal meant for its old child finds it free. */
	for (unsigned i = 0; i < h->nslots; i++) {
		unsigned s = (h->next + i) % h->nslots;
		if (atomic_load(&h->words[s]) == HANDOFF_FREE) {
			atomic_store(&h->words[s], HANDOFF_ACTIVE);
			h->next = (s + 1) % h->nslots;
			return (int)s;
		}
	}
	return -1;
}

void handoff_release(struct handoff *h, int slot)
{
	if (slot >= 0 && (unsigned)slot < h->nslots)
		atomic_store(&h->words[slot], HANDOFF_FREE);
}

int handoff_nudge(struct handoff *h, int slot)
{
	unsigned expect = HANDOFF_ACTIVE;

	if (atomic_compare_exchange_strong(&h->words[slot], &expect,
					   HANDOFF_NUDGED))
		return 1;
	/* Already nudged and not yet taken: the child answers once for
	 * both, which keeps it at one packet out per request in. */
	return expect == HANDOFF_NUDGED;
}

int handoff_done(const struct handoff *h, int slot)
{
	return slot >= 0 && (unsigned)slot < h->nslots &&
	       atomic_load(&h->words[slot]) == HANDOFF_DONE;
}

/* ---- the child's side ---------------------------------------------------- */

static atomic_uint *my_word;
static int wake_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_flag;

static void on_wake(int sig)
{
	int saved = errno;

	if (sig == SIGTERM)
		stop_flag = 1;
	(void)!write(wake_pipe[1], "", 1);
	errno = saved;
}

int handoff_child_init(struct handoff *h, int slot)
{
	struct sigaction sa;

	my_word = &h->words[slot];
	/* Every transfer makes one: one call where pipe2 exists, five
	 * without it. */
#ifdef HAVE_PIPE2
	if (pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
#else
	if (pipe(wake_pipe) != 0)
		return -1;
	for (int i = 0; i < 2; i++)
		if (fcntl(wake_pipe[i], F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC) != 0)
			return -1;
#endif
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_wake;
	sa.sa_flags = SA_RESTART;
	if (sigaction(HANDOFF_SIGNAL, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0)
		return -1;
	return wake_pipe[0];
}

int handoff_take_nudge(void)
{
	unsigned char junk[64];
	unsigned expect = HANDOFF_NUDGED;

	while (read(wake_pipe[0], junk, sizeof(junk)) > 0)
		;
	return my_word &&
	       atomic_compare_exchange_strong(my_word, &expect, HANDOFF_ACTIVE);
}

int handoff_stop_requested(void)
{
	return stop_flag != 0;
}

int handoff_mark_done(void)
{
	unsigned expect = HANDOFF_ACTIVE;

	return my_word &&
	       atomic_compare_exchange_strong(my_word, &expect, HANDOFF_DONE);
}

int handoff_finish(void)
{
	unsigned expect = HANDOFF_ACTIVE;

	if (!my_word ||
	    atomic_compare_exchange_strong(my_word, &expect, HANDOFF_DONE) ||
	    expect == HANDOFF_DONE)
		return 0;
	/* HANDOFF_NUDGED: the client asked again after (or while) the
	 * transfer ended; the listener counts on this child to answer. */
	atomic_store(my_word, HANDOFF_ACTIVE);
	return !stop_flag;
}

void handoff_withdraw(void)
{
	if (my_word)
		atomic_store(my_word, HANDOFF_DONE);
}

/* ---- requests handed back ------------------------------------------------ */

int handoff_channel(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, fds) != 0)
		return -1;
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
		int saved = errno;
		close(fds[0]);
		close(fds[1]);
		errno = saved;
		return -1;
	}
	return 0;
}

int handoff_give_back(int fd, const struct handoff_request *r)
{
	size_t len = offsetof(struct handoff_request, bytes) + r->len;

	return send(fd, r, len, 0) == (ssize_t)len ? 0 : -1;
}

int handoff_take_back(int fd, struct handoff_request *r)
{
	ssize_t n = recv(fd, r, sizeof(*r), 0);

	/* From our own children, but checked all the same: a length that
	 * disagrees with the datagram is dropped. */
	if (n < (ssize_t)offsetof(struct handoff_request, bytes) ||
	    r->len > sizeof(r->bytes) ||
	    (size_t)n != offsetof(struct handoff_request, bytes) + r->len)
		return -1;
	return 0;
}
