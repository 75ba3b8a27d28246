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

	if (config_load(progname, CONFIG_REPLICATOR, config_path, &cfg) != 0)
		return EXIT_USAGE;

	rc = EXIT_OK;
	if (passfile != NULL)
		rc = config_write_passfile(progname, passfile, &cfg);
	else if (cfg.npasswords > 0)
		fprintf(stderr, "%s: warning: %zu password%s in \"%s\" ignored; use --passfile FILE to pass %s to libpq\n",
				progname, cfg.npasswords, cfg.npasswords == 1 ? "" : "s", config_path,
				cfg.npasswords == 1 ? "it" : "them");
	if (rc == EXIT_OK)
		rc = print_config(&cfg);
	config_free(&cfg);
	return rc;
}
