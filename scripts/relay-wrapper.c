/*
 * dovetail-relay: the setgid relay for Postfix's mailbox_command, the way
 * Dovecot's Postfix documentation describes one for dovecot-lda. Installed
 * root:mail mode 2755 by scripts/install.sh --relay, it starts with the mail
 * group as its effective gid and replaces itself with the Dovetail binary
 * (DOVETAIL_PATH, fixed when it is compiled), passing the same argv.
 * Dovetail then drops the group at once and takes it back only to create
 * /var/mail dotlocks (mail_privileged_group).
 *
 * The environment is cut down to the few variables a delivery reads (HOME
 * and USER name the recipient for mailbox_command; PATH, LOGNAME, TZ, and
 * Dovecot's hostname overrides): Node acts on some variables of its own
 * (NODE_V8_COVERAGE, NODE_DEBUG, ...) before any Dovetail code runs, and the
 * caller of a setgid program must not be able to steer them. Nothing else is
 * parsed or changed. When the exec fails it prints one line and exits 75
 * (EX_TEMPFAIL), so that Postfix defers the mail instead of bouncing it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef DOVETAIL_PATH
#error "compile with -DDOVETAIL_PATH='\"/path/to/dovetail\"'"
#endif

#define EX_TEMPFAIL 75

extern char **environ;

static const char *const kept_variables[] = {
	"HOME=", "USER=", "LOGNAME=", "PATH=", "TZ=", "DOVECOT_HOSTNAME=", "DOVECOT_HOSTDOMAIN=",
};
#define KEPT_COUNT (sizeof(kept_variables) / sizeof(kept_variables[0]))

/* is_kept - true when the NAME=value entry is one a delivery needs */
static int is_kept(const char *entry)
{
	for (size_t i = 0; i < KEPT_COUNT; i++)
		if (strncmp(entry, kept_variables[i], strlen(kept_variables[i])) == 0)
			return 1;
	return 0;
}

int main(int argc, char *argv[])
{
	/* at most one entry per kept name is passed on: the first, as getenv() would see it */
	char *env[KEPT_COUNT + 1];
	size_t count = 0;

	(void)argc;
	for (char **entry = environ; entry != NULL && *entry != NULL && count < KEPT_COUNT; entry++) {
		int seen = 0;
		if (!is_kept(*entry))
			continue;
		for (size_t i = 0; i < count; i++)
			if (strncmp(env[i], *entry, strcspn(*entry, "=") + 1) == 0)
				seen = 1;
		if (!seen)
			env[count++] = *entry;
	}
	env[count] = NULL;
	execve(DOVETAIL_PATH, argv, env);
	fprintf(stderr, "dovetail-relay: cannot run %s: %s\n", DOVETAIL_PATH, strerror(errno));
	return EX_TEMPFAIL;
}
