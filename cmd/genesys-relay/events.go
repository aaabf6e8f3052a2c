package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// readEvents returns the events in a file ("-" is stdin): a JSON object, a JSON
// array of objects, or JSON Lines. Each event's bytes are kept as written. A JSON
// Lines file with a malformed line still yields that line, so it shows as rejected.
func readEvents(path string, stdin io.Reader) ([][]byte, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(trimmed, &arr); err != nil {
			return nil, fmt.Errorf("%s: not a valid JSON array: %w", path, err)
		}
		out := make([][]byte, len(arr))
		for i, m := range arr {
			out[i] = m
		}
		return out, nil
	}
	// A stream of JSON values (one object, pretty-printed or not, or JSON Lines).
	var out [][]byte
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	for {
		var m json.RawMessage
		if err := dec.Decode(&m); err == io.EOF {
			return out, nil
		} else if err != nil {
			return splitLines(trimmed), nil
		}
		out = append(out, m)
	}
}

func splitLines(data []byte) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	return out
}
