package main

import (
	"fmt"
	"strconv"
	"strings"
)

// maxListIndex bounds `a[N]=...` so a typo cannot allocate gigabytes.
const maxListIndex = 65536

// pathElem is one step of a --set key: a map key, or a list index.
type pathElem struct {
	key     string
	index   int
	isIndex bool
}

// setParser reads Helm's --set syntax: `a.b=c,d[0].e=f,g={x,y}`, with `\`
// escaping the next character (so `a\.b=1` names the key "a.b" and
// `a=x\,y` is the string "x,y").
type setParser struct {
	in       []rune
	pos      int
	asString bool
}

// parseSet applies one --set (or --set-string) argument to values.
func parseSet(s string, values map[string]interface{}, asString bool) error {
	p := &setParser{in: []rune(s), asString: asString}
	for p.pos < len(p.in) {
		path, err := p.key()
		if err != nil {
			return err
		}
		var value interface{}
		if p.peek() == '{' {
			if value, err = p.list(); err != nil {
				return err
			}
		} else {
			value = p.typed(p.until(","))
		}
		if p.pos < len(p.in) {
			if p.in[p.pos] != ',' {
				return fmt.Errorf("unexpected %q after the value of %q", p.in[p.pos], describePath(path))
			}
			p.pos++
		}
		if err := setPath(values, path, value); err != nil {
			return err
		}
	}
	return nil
}

func (p *setParser) peek() rune {
	if p.pos < len(p.in) {
		return p.in[p.pos]
	}
	return 0
}

// until reads up to (not including) an unescaped stop rune, or the end,
// unescaping as it goes.
func (p *setParser) until(stops string) string {
	var b strings.Builder
	for p.pos < len(p.in) {
		r := p.in[p.pos]
		if r == '\\' && p.pos+1 < len(p.in) {
			b.WriteRune(p.in[p.pos+1])
			p.pos += 2
			continue
		}
		if strings.ContainsRune(stops, r) {
			break
		}
		b.WriteRune(r)
		p.pos++
	}
	return b.String()
}

// key reads `name(.name|[N])*=` and leaves pos after the `=`.
func (p *setParser) key() ([]pathElem, error) {
	var path []pathElem
	needName := true // at the start and after a `.`; not right after `[N]`
	for {
		name := p.until(".[=,")
		if p.peek() == 0 || p.peek() == ',' {
			return nil, fmt.Errorf("key %q has no value", describePath(append(path, pathElem{key: name})))
		}
		switch {
		case needName && name == "":
			return nil, fmt.Errorf("key %q has an empty name at position %d", string(p.in), p.pos)
		case !needName && name != "":
			return nil, fmt.Errorf("key %q: %q follows a list index without a dot", string(p.in), name)
		case name != "":
			path = append(path, pathElem{key: name})
		}
		switch p.in[p.pos] {
		case '=':
			p.pos++
			return path, nil
		case '.':
			p.pos++
			needName = true
		case '[':
			p.pos++
			digits := p.until("]")
			if p.peek() != ']' {
				return nil, fmt.Errorf("key %q has an unclosed [", string(p.in))
			}
			p.pos++
			idx, err := strconv.Atoi(digits)
			if err != nil || idx < 0 {
				return nil, fmt.Errorf("key %q has a bad list index %q", string(p.in), digits)
			}
			if idx > maxListIndex {
				return nil, fmt.Errorf("list index %d is greater than the largest allowed, %d", idx, maxListIndex)
			}
			path = append(path, pathElem{index: idx, isIndex: true})
			needName = false
		}
	}
}

// list reads `{a,b,c}`, each item typed like a scalar value.
func (p *setParser) list() ([]interface{}, error) {
	p.pos++ // the {
	items := []interface{}{}
	for {
		if p.peek() == '}' && len(items) == 0 {
			p.pos++
			return items, nil
		}
		item := p.until(",}")
		switch p.peek() {
		case 0:
			return nil, fmt.Errorf("list %q is not closed with }", string(p.in))
		case ',':
			p.pos++
			items = append(items, p.typed(item))
		case '}':
			p.pos++
			return append(items, p.typed(item)), nil
		}
	}
}

// typed turns a --set value into data as Helm does: true/false/null (any
// case) and integers become typed; everything else, floats included, stays
// a string. --set-string keeps every value a string.
func (p *setParser) typed(v string) interface{} {
	if p.asString {
		return v
	}
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	case "0":
		return int64(0)
	}
	// A leading zero (007, 0x1F) keeps the value a string.
	if v != "" && v[0] != '0' {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return v
}

// setPath stores value at path inside values, creating maps and lists as
// needed and keeping whatever else is already there.
func setPath(values map[string]interface{}, path []pathElem, value interface{}) error {
	updated, err := setIn(values, path, value)
	if err != nil {
		return err
	}
	for k, v := range updated.(map[string]interface{}) {
		values[k] = v
	}
	return nil
}

func setIn(node interface{}, path []pathElem, value interface{}) (interface{}, error) {
	if len(path) == 0 {
		return value, nil
	}
	step := path[0]
	if step.isIndex {
		list, _ := node.([]interface{})
		for len(list) <= step.index {
			list = append(list, nil)
		}
		child, err := setIn(list[step.index], path[1:], value)
		if err != nil {
			return nil, err
		}
		list[step.index] = child
		return list, nil
	}
	m, ok := node.(map[string]interface{})
	if !ok {
		// A scalar (or nothing) where a table is needed becomes a table.
		m = map[string]interface{}{}
	}
	child, err := setIn(m[step.key], path[1:], value)
	if err != nil {
		return nil, err
	}
	m[step.key] = child
	return m, nil
}

func describePath(path []pathElem) string {
	var b strings.Builder
	for i, e := range path {
		if e.isIndex {
			fmt.Fprintf(&b, "[%d]", e.index)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.key)
	}
	return b.String()
}
