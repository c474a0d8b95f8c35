/* Becoming a daemon: detaching from the terminal.  (inetd, socket
 * activation, chroot and privilege drop are to come here too.) */
#ifndef CTFTPD_DAEMON_H
#define CTFTPD_DAEMON_H

/* Detach: fork (the original process exits 0), start a new session, chdir
 * to "/" and point standard input, output and error at /dev/null.  Call after
 * the sockets are bound, so bind errors still reach the terminal.  Returns 0
 * in the daemon, or -1 (errno) in the original process on failure. */
int daemon_detach(void);

#endif
