/* slate-config - reads a replicator config.js without running it and prints its settings as key=value lines */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcodes.h"
#include "version.h"
#include "config.h"
#include "jsvalue.h"

static const char *progname = "slate-config";

static void usage(void)
{
	printf("%s reads a replicator configuration file (the JavaScript or JSON file\n"
		   "given to \"slate-replicator -c\") without running it, checks it and prints\n"
		   "its settings as key=value lines for a shell script.\n\n", progname);
	printf("Usage:\n"
		   "  %s [OPTION]... FILE\n\n", progname);
	printf("Options:\n"
		   "  -c, --config=FILE      the configuration file (instead of the FILE argument)\n"
		   "  -p, --passfile=FILE    write the passwords to FILE in pgpass format (mode 0600;\n"
		   "                         FILE must be new or an existing file only its owner can read)\n"
		   "  -V, --version          output version information, then exit\n"
		   "  -h, --help             show this help, then exit\n\n");
	printf("Output, one line each:\n"
		   "  max_events_per_write=N\n"
		   "  connect_timeout=SECONDS\n"
		   "  source=CONNINFO\n"
		   "  destination=CONNINFO    (one line per destination)\n"
		   "CONNINFO is a libpq keyword=value string without the password; passwords\n"
		   "go only to the --passfile file (use it as PGPASSFILE).\n\n");
	printf("Exit status: 0 ok, %d bad option or configuration, %d output could not be written.\n",
		   EXIT_USAGE, EXIT_IO);
}

static void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "%s: %s%s%s%s\n", progname, msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	fprintf(stderr, "Try \"%s --help\" for more information.\n", progname);
}

/*
 * Reads the whole file at path (at most JV_MAX_INPUT bytes) into a malloced
 * buffer.  Returns NULL after printing one line about what went wrong.
 */
static char *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t used = 0;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: could not open configuration file \"%s\": %s\n",
				progname, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: could not read configuration file \"%s\": %s\n",
				progname, path, strerror(EISDIR));
		goto error;
	}
	/* one byte more than allowed tells a file at the limit from a larger one */
	buf = malloc(JV_MAX_INPUT + 1);
	if (buf == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		goto error;
	}
	for (;;) {
		ssize_t n = read(fd, buf + used, JV_MAX_INPUT + 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: could not read configuration file \"%s\": %s\n",
					progname, path, strerror(errno));
			goto error;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > JV_MAX_INPUT) {
			fprintf(stderr, "%s: configuration file \"%s\" is too large (more than %d bytes)\n",
					progname, path, JV_MAX_INPUT);
			goto error;
		}
	}
	close(fd);
	*len = used;
	return buf;

error:
	if (buf != NULL) {
		explicit_bzero(buf, used);
		free(buf);
	}
	close(fd);
	return NULL;
}

static bool write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		s += n;
		len -= (size_t)n;
	}
	return true;
}

/* writes one pgpass line for conn if it has a password */
static bool write_pgpass_line(int fd, const struct config_conn *conn)
{
	char *line;
	bool ok;

	if (conn->password == NULL)
		return true;
	line = config_pgpass_line(conn);
	if (line == NULL) {
		errno = ENOMEM;
		return false;
	}
	ok = write_all(fd, line, strlen(line));
	config_free_secret(line);
	return ok;
}

/*
 * Writes the passwords of cfg to path in pgpass format.  path is created
 * with mode 0600, or is an existing regular file of ours that nobody else
 * can read (e.g. from mktemp), which is truncated.  Returns an exit code.
 */
static int write_passfile(const char *path, const struct config *cfg)
{
	bool created = true;
	struct stat st;
	size_t i;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		fprintf(stderr, "%s: could not open password file \"%s\": %s\n", progname, path, strerror(errno));
		return EXIT_USAGE;
	}
	if (!created) {
		const char *problem = NULL;

		if (fstat(fd, &st) != 0)
			problem = strerror(errno);
		else if (!S_ISREG(st.st_mode))
			problem = "not a regular file";
		else if (st.st_uid != geteuid())
			problem = "owned by another user";
		else if ((st.st_mode & 077) != 0)
			problem = "group or others have access (it must have mode 0600)";
		if (problem != NULL) {
			fprintf(stderr, "%s: refusing to write passwords to \"%s\": %s\n", progname, path, problem);
			close(fd);
			return EXIT_USAGE;
		}
	}
	/* the umask may have taken more; libpq accepts no less strict a mode */
	if ((created && fchmod(fd, 0600) != 0) || (!created && ftruncate(fd, 0) != 0))
		goto error;
	if (!write_pgpass_line(fd, &cfg->source))
		goto error;
	for (i = 0; i < cfg->ndests; i++)
		if (!write_pgpass_line(fd, &cfg->dests[i]))
			goto error;
	if (close(fd) != 0) {
		fd = -1;
		goto error;
	}
	return EXIT_OK;

error:
	fprintf(stderr, "%s: could not write password file \"%s\": %s\n", progname, path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(path);
	return EXIT_IO;
}

static bool print_conn(const char *key, const struct config_conn *conn)
{
	char *conninfo = config_conninfo(conn);

	if (conninfo == NULL)
		return false;
	printf("%s=%s\n", key, conninfo);
	free(conninfo);
	return true;
}

/* prints the settings on stdout; returns an exit code */
static int print_config(const struct config *cfg)
{
	size_t i;
	bool ok;

	printf("max_events_per_write=%lld\n", cfg->max_events_per_write);
	/* libpq counts whole seconds; rounding up never shortens the wait */
	printf("connect_timeout=%lld\n", (cfg->connect_timeout_ms + 999) / 1000);
	ok = print_conn("source", &cfg->source);
	for (i = 0; ok && i < cfg->ndests; i++)
		ok = print_conn("destination", &cfg->dests[i]);
	if (!ok) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return EXIT_IO;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: could not write to standard output: %s\n", progname, strerror(errno));
		return EXIT_IO;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "passfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config_path = NULL;
	const char *passfile = NULL;
	struct config cfg;
	char *buf;
	size_t len = 0;
	int c, rc;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0)) {
		usage();
		return EXIT_OK;
	}
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("%s (slate) %s\n", progname, SLATE_VERSION);
		return EXIT_OK;
	}

	opterr = 0;					/* our own messages, without argv[0]'s path */
	while ((c = getopt_long(argc, argv, ":c:p:hV", long_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'p':
			passfile = optarg;
			break;
		case 'h':
			usage();
			return EXIT_OK;
		case 'V':
			printf("%s (slate) %s\n", progname, SLATE_VERSION);
			return EXIT_OK;
		case ':':
			usage_error("option requires an argument:", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			if (optopt != 0) {
				char opt[3] = { '-', (char)optopt, '\0' };

				usage_error("unrecognized option", opt);
			} else
				usage_error("unrecognized option", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		if (config_path != NULL) {
			usage_error("both --config and a FILE argument given:", argv[optind]);
			return EXIT_USAGE;
		}
		config_path = argv[optind++];
	}
	if (optind < argc) {
		usage_error("too many command-line arguments, first extra is", argv[optind]);
		return EXIT_USAGE;
	}
	if (config_path == NULL) {
		usage_error("no configuration file given", NULL);
		return EXIT_USAGE;
	}
	if (passfile != NULL && passfile[0] == '\0') {
		usage_error("--passfile needs a file name", NULL);
		return EXIT_USAGE;
	}

	buf = read_file(config_path, &len);
	if (buf == NULL)
		return EXIT_USAGE;
	rc = config_parse_buffer(config_path, buf, len, &cfg, stderr);
	explicit_bzero(buf, len);	/* it holds the passwords too */
	free(buf);
	if (rc != 0)
		return EXIT_USAGE;

	if (passfile != NULL)
		rc = write_passfile(passfile, &cfg);
	else if (cfg.npasswords > 0)
		fprintf(stderr, "%s: warning: %zu password%s in \"%s\" ignored; use --passfile FILE to pass %s to libpq\n",
				progname, cfg.npasswords, cfg.npasswords == 1 ? "" : "s", config_path,
				cfg.npasswords == 1 ? "it" : "them");
	if (rc == EXIT_OK)
		rc = print_config(&cfg);
	config_free(&cfg);
	return rc;
}
