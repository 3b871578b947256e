/*
 * compose.h - YAML documents from libyaml's event stream.
 *
 * yaml_parser_load builds a document only after the whole of it is
 * parsed, so a bound on nesting needed a parse of its own first, and
 * libyaml's scanner goes quadratic on deep flow nesting. yaml_compose builds
 * the same nodes (without tags, which the loader does not read) in the one
 * parse, and stops at the first collection nested deeper than the bound.
 */
#ifndef VEM_COMPOSE_H
#define VEM_COMPOSE_H

#include <yaml.h>

enum compose_result {
	COMPOSE_DOCUMENT,          /* doc holds the next document */
	COMPOSE_END,               /* the stream has no more documents */
	COMPOSE_ERROR,             /* see the error; doc is empty */
};

struct compose_error {
	int line, column;          /* 1-based */
	char msg[200];
};

/*
 * The next document of parser's stream into doc (zeroed, or deleted by
 * yaml_document_delete since), as yaml_parser_load builds it: nodes with
 * their start marks, aliases resolved to their anchor's node (also one
 * still open: a collection may contain itself), a second anchor of the same
 * name refused as libyaml refuses it. A collection nested deeper than
 * max_depth, a syntax error, an alias of no anchor are errors. Free doc
 * with yaml_document_delete.
 */
enum compose_result yaml_compose(yaml_parser_t *parser, yaml_document_t *doc, int max_depth,
				 struct compose_error *err);

#endif
