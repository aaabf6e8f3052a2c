package kinesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// The answer to PutRecords is small (about 100 bytes per record) and flat, so
// it is decoded by hand: the body becomes one string, and every value without
// escapes is a substring of it. Member names match exactly, as in the SDK's
// deserializer; unknown members are skipped; a body that is not valid JSON is
// an error, as encoding/json would find it (FuzzDecodePutRecordsOutput).

// errJSON reports an answer that is not valid JSON of the expected shape.
var errJSON = errors.New("malformed PutRecords answer")

// maxJSONDepth bounds the nesting of skipped values, as encoding/json does.
const maxJSONDepth = 10000

// decodePutRecordsOutput decodes a PutRecords answer; n is the number of
// records sent, the expected number of results.
func decodePutRecordsOutput(payload []byte, n int) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{}
	if len(payload) == 0 {
		return out, nil
	}
	p := jsonParser{s: string(payload)}
	if p.null() {
		return out, p.end()
	}
	err := p.object(func(key string) error {
		switch key {
		case "EncryptionType":
			v, _, err := p.str()
			out.EncryptionType = types.EncryptionType(v)
			return err
		case "FailedRecordCount":
			if p.null() {
				out.FailedRecordCount = nil
				return nil
			}
			v, err := p.int32()
			out.FailedRecordCount = &v
			return err
		case "Records":
			recs, err := p.records(n)
			out.Records = recs
			return err
		}
		return p.skip(0)
	})
	if err != nil {
		return nil, err
	}
	return out, p.end()
}

// jsonParser reads JSON from s starting at i.
type jsonParser struct {
	s    string
	i    int
	strs []string // backing store of *string results
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format+" at offset %d", append([]any{errJSON}, append(args, p.i)...)...)
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek returns the next byte that is not white space, or 0 at the end.
func (p *jsonParser) peek() byte {
	p.ws()
	if p.i >= len(p.s) {
		return 0
	}
	return p.s[p.i]
}

func (p *jsonParser) expect(c byte) error {
	if p.peek() != c {
		return p.errorf("want %q", c)
	}
	p.i++
	return nil
}

// end checks that nothing but white space follows the value.
func (p *jsonParser) end() error {
	if p.ws(); p.i < len(p.s) {
		return p.errorf("data after the top-level value")
	}
	return nil
}

// literal consumes word if it comes next.
func (p *jsonParser) literal(word string) bool {
	p.ws()
	if strings.HasPrefix(p.s[p.i:], word) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *jsonParser) null() bool { return p.literal("null") }

// object reads an object, calling member for each member name with the
// parser positioned at its value, which member must consume.
func (p *jsonParser) object(member func(key string) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		if p.peek() != '"' {
			return p.errorf("want a member name")
		}
		key, _, err := p.str()
		if err != nil {
			return err
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errorf("want ',' or '}'")
		}
	}
}

// str reads a string or null (null reports true).
func (p *jsonParser) str() (string, bool, error) {
	switch p.peek() {
	case '"':
	case 'n':
		if p.null() {
			return "", true, nil
		}
		fallthrough
	default:
		return "", false, p.errorf("want a string")
	}
	start := p.i
	end := strings.IndexByte(p.s[start+1:], '"')
	if end < 0 {
		return "", false, p.errorf("unterminated string")
	}
	v := p.s[start+1 : start+1+end]
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\\' || c < 0x20 || c >= 0x80 {
			return p.slowStr(start)
		}
	}
	p.i = start + 2 + end
	return v, false, nil
}

// slowStr reads a string with escapes, control or non-ASCII characters through
// encoding/json: the rare case, and the one where its rules (escapes, invalid
// UTF-8 replaced) must be followed exactly.
func (p *jsonParser) slowStr(start int) (string, bool, error) {
	j := start + 1
	for ; j < len(p.s); j++ {
		if c := p.s[j]; c == '\\' {
			j++
		} else if c == '"' {
			break
		}
	}
	if j >= len(p.s) {
		return "", false, p.errorf("unterminated string")
	}
	var v string
	if err := json.Unmarshal([]byte(p.s[start:j+1]), &v); err != nil {
		return "", false, p.errorf("bad string: %v", err)
	}
	p.i = j + 1
	return v, false, nil
}

// number reads a JSON number and returns its text.
func (p *jsonParser) number() (string, error) {
	p.ws()
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	first := p.i
	if n := digits(); n == 0 || n > 1 && p.s[first] == '0' {
		p.i = start
		return "", p.errorf("bad number")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			p.i = start
			return "", p.errorf("bad number")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.i = start
			return "", p.errorf("bad number")
		}
	}
	return p.s[start:p.i], nil
}

func (p *jsonParser) int32() (int32, error) {
	if c := p.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, p.errorf("want a number")
	}
	text, err := p.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(text, 10, 32)
	if err != nil {
		return 0, p.errorf("number %s is not a 32-bit integer", text)
	}
	return int32(v), nil
}

// ptr returns a pointer to a copy of s, from a backing array shared by the
// results of one answer.
func (p *jsonParser) ptr(s string) *string {
	if len(p.strs) == cap(p.strs) {
		p.strs = make([]string, 0, max(16, 2*cap(p.strs)))
	}
	p.strs = append(p.strs, s)
	return &p.strs[len(p.strs)-1]
}

// strPtr reads a string member into *dst (nil for null).
func (p *jsonParser) strPtr(dst **string) error {
	v, null, err := p.str()
	if err != nil {
		return err
	}
	if null {
		*dst = nil
	} else {
		*dst = p.ptr(v)
	}
	return nil
}

// records reads the Records member.
func (p *jsonParser) records(n int) ([]types.PutRecordsResultEntry, error) {
	if p.null() {
		return nil, nil
	}
	if err := p.expect('['); err != nil {
		return nil, err
	}
	recs := make([]types.PutRecordsResultEntry, 0, n)
	if cap(p.strs)-len(p.strs) < 2*n {
		p.strs = make([]string, 0, 2*n)
	}
	if p.peek() == ']' {
		p.i++
		return recs, nil
	}
	for {
		var r types.PutRecordsResultEntry
		if !p.null() {
			err := p.object(func(key string) error {
				switch key {
				case "SequenceNumber":
					return p.strPtr(&r.SequenceNumber)
				case "ShardId":
					return p.strPtr(&r.ShardId)
				case "ErrorCode":
					return p.strPtr(&r.ErrorCode)
				case "ErrorMessage":
					return p.strPtr(&r.ErrorMessage)
				}
				return p.skip(0)
			})
			if err != nil {
				return nil, err
			}
		}
		recs = append(recs, r)
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return recs, nil
		default:
			return nil, p.errorf("want ',' or ']'")
		}
	}
}

// skip reads and discards any value.
func (p *jsonParser) skip(depth int) error {
	if depth >= maxJSONDepth {
		return p.errorf("nested too deeply")
	}
	switch c := p.peek(); {
	case c == '"':
		_, _, err := p.str()
		return err
	case c == '{':
		return p.object(func(string) error { return p.skip(depth + 1) })
	case c == '[':
		p.i++
		if p.peek() == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			switch p.peek() {
			case ',':
				p.i++
			case ']':
				p.i++
				return nil
			default:
				return p.errorf("want ',' or ']'")
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		_, err := p.number()
		return err
	case p.literal("true"), p.literal("false"), p.null():
		return nil
	}
	return p.errorf("want a value")
}

// decodeAPIError decodes an error answer as the SDK's AWS JSON protocol does:
// the code from the X-Amzn-ErrorType header, else the body's __type, else its
// code, without a "namespace#" prefix or ":uri" suffix; the message from the
// body's message (any case). Codes Kinesis models become the SDK's types for
// them (whose message is the exact member "message"), others a
// smithy.GenericAPIError.
func decodeAPIError(h http.Header, body []byte) error {
	var info struct {
		Type    string `json:"__type"`
		Message string
		Code    any
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&info); err != nil && err != io.EOF {
		snapshot := body[max(0, len(body)-1024):]
		return &smithy.DeserializationError{
			Err:      fmt.Errorf("failed to decode response body, %w", err),
			Snapshot: append([]byte(nil), snapshot...),
		}
	}
	code, msg := "UnknownError", "UnknownError"
	codeMember, _ := info.Code.(string)
	switch {
	case h.Get("X-Amzn-ErrorType") != "":
		code = h.Get("X-Amzn-ErrorType")
	case info.Type != "":
		code = info.Type
	case codeMember != "":
		code = codeMember
	}
	if info.Message != "" {
		msg = info.Message
	}
	code = sanitizeErrorCode(code)
	if modeledError(code, nil) != nil {
		m, err := modeledMessage(body)
		if err != nil {
			return &smithy.DeserializationError{Err: err}
		}
		return modeledError(code, m)
	}
	return &smithy.GenericAPIError{Code: code, Message: msg}
}

// modeledMessage is the message of a modelled error as the SDK's deserializer
// reads it: the last top-level member "message" or "Message", nil when there
// is none or it is null.
func modeledMessage(body []byte) (*string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("error body is not a JSON object")
	}
	var msg *string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case "message", "Message":
			var m *string
			if err := dec.Decode(&m); err != nil {
				return nil, err
			}
			if m != nil {
				msg = m
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	return msg, nil
}

// sanitizeErrorCode strips a "namespace#" prefix and a ":uri" suffix.
func sanitizeErrorCode(code string) string {
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.IndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return code
}

// modeledError returns the SDK's type for an error Kinesis models (those of
// kinesis.TypeRegistry), or nil.
func modeledError(code string, msg *string) smithy.APIError {
	switch code {
	case "AccessDeniedException":
		return &types.AccessDeniedException{Message: msg}
	case "DryRunOperationException":
		return &types.DryRunOperationException{Message: msg}
	case "ExpiredIteratorException":
		return &types.ExpiredIteratorException{Message: msg}
	case "ExpiredNextTokenException":
		return &types.ExpiredNextTokenException{Message: msg}
	case "InternalFailureException":
		return &types.InternalFailureException{Message: msg}
	case "InvalidArgumentException":
		return &types.InvalidArgumentException{Message: msg}
	case "KMSAccessDeniedException":
		return &types.KMSAccessDeniedException{Message: msg}
	case "KMSDisabledException":
		return &types.KMSDisabledException{Message: msg}
	case "KMSInvalidStateException":
		return &types.KMSInvalidStateException{Message: msg}
	case "KMSNotFoundException":
		return &types.KMSNotFoundException{Message: msg}
	case "KMSOptInRequired":
		return &types.KMSOptInRequired{Message: msg}
	case "KMSThrottlingException":
		return &types.KMSThrottlingException{Message: msg}
	case "LimitExceededException":
		return &types.LimitExceededException{Message: msg}
	case "ProvisionedThroughputExceededException":
		return &types.ProvisionedThroughputExceededException{Message: msg}
	case "ResourceInUseException":
		return &types.ResourceInUseException{Message: msg}
	case "ResourceNotFoundException":
		return &types.ResourceNotFoundException{Message: msg}
	case "ValidationException":
		return &types.ValidationException{Message: msg}
	}
	return nil
}
