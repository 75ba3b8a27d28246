/* config_reader.c - libFuzzer harness: any bytes as each kind of config file through config_parse */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "config_reader harness: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* every message line is "slate-config: ..." of printable text */
static void
check_messages(const char *out, size_t len)
{
	const char *line = out;

	if (strlen(out) != len)
		die("a NUL byte in the messages", NULL);
	while (*line != '\0')
	{
		const char *nl = strchr(line, '\n');

		if (nl == NULL)
			die("a message without its newline", line);
		if (strncmp(line, "slate-config: ", 14) != 0)
			die("a message without the program name", line);
		for (const char *p = line; p < nl; p++)
			if ((unsigned char) *p < 0x20 || *p == 0x7f)
				die("a control character in a message", line);
		line = nl + 1;
	}
}

static void
check_conn(const struct config_conn *c)
{
	char	   *s;

	if (c->host == NULL || c->dbname == NULL || c->port < 0 || c->port > 65535)
		die("a connection outside the contract", NULL);
	if ((s = config_conninfo(c)) == NULL)
		die("config_conninfo failed", NULL);
	free(s);
	if (c->password != NULL)
	{
		if ((s = config_pgpass_line(c)) == NULL)
			die("config_pgpass_line failed", NULL);
		config_free_secret(s);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char	   *out = NULL;
	size_t		outlen = 0;
	FILE	   *msgs = open_memstream(&out, &outlen);
	int			rc;

	if (msgs == NULL)
		die("open_memstream failed", NULL);
	rc = config_parse_buffer("fuzz.js", (const char *) data, size, &cfg, msgs);
	fclose(msgs);
	check_messages(out, outlen);
	free(out);
	if (rc == 0)
	{
		if (cfg.ndests == 0 || cfg.dests == NULL ||
			cfg.max_events_per_write < CONFIG_MIN_EVENTS_PER_WRITE || cfg.connect_timeout_ms < 1)
			die("an accepted config outside the contract", NULL);
		check_conn(&cfg.source);
		for (size_t i = 0; i < cfg.ndests; i++)
			check_conn(&cfg.dests[i]);
	}
	else if (rc != -1 || cfg.dests != NULL || cfg.ndests != 0)
		die("a refused config that is not empty", NULL);
	config_free(&cfg);

	/* the same bytes as the other tools' files: eventsDiff's, the loaders' */
	for (int kind = CONFIG_EVENTS_DIFF; kind <= CONFIG_EVENT_SOURCE; kind++)
	{
		out = NULL;
		outlen = 0;
		if ((msgs = open_memstream(&out, &outlen)) == NULL)
			die("open_memstream failed", NULL);
		rc = config_parse("slate-config", (enum config_kind) kind, "fuzz.js",
						  (const char *) data, size, &cfg, msgs);
		fclose(msgs);
		check_messages(out, outlen);
		free(out);
		if (rc == 0)
		{
			if (cfg.connect_timeout_ms < 1 || cfg.ndests != (kind == CONFIG_EVENTS_DIFF ? 1u : 0u) ||
				(kind == CONFIG_EVENTS_DIFF && cfg.max_events_per_read < CONFIG_MIN_EVENTS_PER_READ))
				die("an accepted config outside the contract", NULL);
			check_conn(&cfg.source);
			for (size_t i = 0; i < cfg.ndests; i++)
				check_conn(&cfg.dests[i]);
		}
		else if (rc != -1 || cfg.dests != NULL || cfg.ndests != 0)
			die("a refused config that is not empty", NULL);
		config_free(&cfg);
	}
	return 0;
}
