/*
 * dovetail-relay: the setgid relay for Postfix's mailbox_command, the way
 * Dovecot's Postfix documentation describes one for dovecot-lda. Installed
 * root:mail mode 2755 by scripts/install.sh --relay, it starts with the mail
 * group as its effective gid and replaces itself with the Dovetail binary
 * (DOVETAIL_PATH, fixed when it is compiled), passing the same argv and the
 * same environment. Dovetail then drops the group at once and takes it back
 * only to create /var/mail dotlocks (mail_privileged_group).
 *
 * It does nothing else: no parsing, no environment changes. When the exec
 * fails it prints one line and exits 75 (EX_TEMPFAIL), so that Postfix
 * defers the mail instead of bouncing it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef DOVETAIL_PATH
#error "compile with -DDOVETAIL_PATH='\"/path/to/dovetail\"'"
#endif

#define EX_TEMPFAIL 75

int main(int argc, char *argv[])
{
	(void)argc;
	execv(DOVETAIL_PATH, argv);
	fprintf(stderr, "dovetail-relay: cannot run %s: %s\n", DOVETAIL_PATH, strerror(errno));
	return EX_TEMPFAIL;
}
