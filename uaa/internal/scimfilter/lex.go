package scimfilter

import (
	"encoding/json"
	"fmt"
	"strings"
)

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokLParen
	tokRParen
	tokWord   // attribute path, keyword, operator, true/false/null
	tokString // JSON string; text is the raw literal with its quotes
	tokNumber // JSON number
)

type token struct {
	kind tokenKind
	pos  int
	text string // raw text of the token
	str  string // tokString: decoded value
}

// describe renders a token for "found …" in error messages.
func (t token) describe() string {
	const maxShown = 32
	s := t.text
	if len(s) > maxShown {
		s = s[:maxShown] + "…"
	}
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		return "string " + s
	case tokNumber:
		return "number " + s
	}
	return fmt.Sprintf("%q", s)
}

// is reports whether t is the word w, ignoring case.
func (t token) is(w string) bool { return t.kind == tokWord && strings.EqualFold(t.text, w) }

// lexer splits a filter into tokens. It is a value type: copying it saves
// its state, which is how the parser looks ahead.
type lexer struct {
	src string
	pos int
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
}

func isWordChar(c byte) bool {
	return isWordStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// next returns the next token.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start == len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case c == '(':
		l.pos++
		return token{kind: tokLParen, pos: start, text: "("}, nil
	case c == ')':
		l.pos++
		return token{kind: tokRParen, pos: start, text: ")"}, nil
	case c == '"':
		return l.string()
	case c == '-' || isDigit(c):
		return l.number()
	case isWordStart(c):
		for l.pos < len(l.src) && isWordChar(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tokWord, pos: start, text: l.src[start:l.pos]}, nil
	case c == '[' || c == ']':
		return token{}, &Error{Pos: start, Msg: fmt.Sprintf("complex attribute filters (%q) are not supported, at position %d", c, start)}
	}
	return token{}, &Error{Pos: start, Msg: fmt.Sprintf("unexpected character %q at position %d", rune(c), start)}
}

func (l *lexer) string() (token, error) {
	start := l.pos
	i := start + 1
	for ; i < len(l.src); i++ {
		switch l.src[i] {
		case '\\':
			i++ // skip the escaped byte; json.Unmarshal checks it
			continue
		case '"':
			raw := l.src[start : i+1]
			var s string
			if err := json.Unmarshal([]byte(raw), &s); err != nil {
				return token{}, &Error{Pos: start, Msg: fmt.Sprintf("invalid string at position %d: %v", start, err)}
			}
			if strings.IndexByte(s, 0) >= 0 {
				return token{}, &Error{Pos: start, Msg: fmt.Sprintf("string at position %d contains a NUL character", start)}
			}
			l.pos = i + 1
			return token{kind: tokString, pos: start, text: raw, str: s}, nil
		}
	}
	return token{}, &Error{Pos: start, Msg: fmt.Sprintf("unterminated string starting at position %d", start)}
}

// number scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (l *lexer) number() (token, error) {
	start := l.pos
	i := start
	bad := func() (token, error) {
		return token{}, &Error{Pos: start, Msg: fmt.Sprintf("invalid number at position %d", start)}
	}
	digits := func() bool {
		j := i
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
		return i > j
	}
	if l.src[i] == '-' {
		i++
	}
	switch {
	case i < len(l.src) && l.src[i] == '0':
		i++
	case !digits():
		return bad()
	}
	if i < len(l.src) && l.src[i] == '.' {
		i++
		if !digits() {
			return bad()
		}
	}
	if i < len(l.src) && (l.src[i] == 'e' || l.src[i] == 'E') {
		i++
		if i < len(l.src) && (l.src[i] == '+' || l.src[i] == '-') {
			i++
		}
		if !digits() {
			return bad()
		}
	}
	if i < len(l.src) && (isWordChar(l.src[i]) || l.src[i] == '"') {
		return bad() // 12abc, 0123, 1.2.3
	}
	l.pos = i
	return token{kind: tokNumber, pos: start, text: l.src[start:i]}, nil
}
