// Package scimfilter parses SCIM 2.0 filter expressions (RFC 7644 §3.4.2.2)
// as UAA's /Users and /Groups endpoints accept them, and translates them into
// parameterised Postgres WHERE clauses.
//
// # Grammar
//
//	filter     = or
//	or         = and *("or" and)
//	and        = unary *("and" unary)
//	unary      = "not" "(" filter ")" / "(" filter ")" / comparison
//	comparison = attrPath "pr" / attrPath compareOp value
//	compareOp  = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "ge" / "lt" / "le"
//	value      = JSON string / JSON number / "true" / "false" / "null"
//
// Keywords, operators and attribute names are case-insensitive; "not" binds
// tighter than "and", which binds tighter than "or", and both binary
// operators associate to the left. Attribute paths are dotted
// (emails.value, meta.lastModified) and may carry a schema URN prefix.
// Complex attribute filters (emails[type eq "work"]) are not supported.
//
// # Limits
//
// Filters come from untrusted clients, so [Parse] rejects input longer than
// [MaxLength] bytes, nesting deeper than [MaxDepth] parentheses and more than
// [MaxComparisons] comparisons. Recursion in Parse, [ToSQL] and
// [Expr.String] is bounded by these limits.
//
// # Errors
//
// Every error from Parse and ToSQL is an [*Error] and matches
// [ErrInvalidFilter] with errors.Is; its message names the byte position
// (0-based) and what was expected, e.g.
//
//	filter: expected operator at position 9, found "bob"
//
// so HTTP handlers can answer 400 {"error":"invalid_filter",
// "error_description": err.Error()}.
//
// # SQL
//
// ToSQL never interpolates values: each becomes a $N placeholder and an
// argument. The caller maps SCIM attribute names to SQL [Column]s; string
// comparisons are case-insensitive unless the column is [CaseExactString].
// Comparisons use two-valued logic: an attribute that is NULL makes a
// comparison false, also under "not".
//
//	expr, err := scimfilter.Parse(r.URL.Query().Get("filter"))
//	...
//	where, args, err := scimfilter.ToSQL(expr, userAttrs, 1)
//	rows, err := pool.Query(ctx, "SELECT … FROM users u WHERE "+where, args...)
package scimfilter
