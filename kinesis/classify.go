package kinesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/genesys-relay/genesys-relay"
)

// class is what the writer does about a failure. Every decision about which
// Kinesis failures are worth retrying is made in this file.
type class uint8

const (
	// classRetry is a transient failure: send the records again after a backoff.
	classRetry class = iota
	// classThrottle is a transient failure caused by a shard or KMS limit.
	classThrottle
	// classUnavailable needs an operator (missing stream, permissions,
	// credentials, KMS key): fail the records now with relay.ErrUnavailable so
	// the event is kept upstream and sent again later, not dead-lettered.
	classUnavailable
	// classInvalid is a request Kinesis rejected as malformed; a record named in
	// the message can never be written (relay.ErrPermanent).
	classInvalid
	// classCanceled is a call the writer itself cancelled (Close gave up).
	classCanceled
)

func (c class) String() string {
	return [...]string{"retry", "throttle", "unavailable", "invalid", "canceled"}[c]
}

// codes maps Kinesis (and generic AWS) error codes, request-level or per record,
// to a class. Codes not listed are retried: a new throttling or transient code
// must not lose events.
var codes = map[string]class{
	"ProvisionedThroughputExceededException": classThrottle,
	"LimitExceededException":                 classThrottle,
	"KMSThrottlingException":                 classThrottle,
	"ThrottlingException":                    classThrottle,
	"Throttling":                             classThrottle,
	"ThrottledException":                     classThrottle,
	"TooManyRequestsException":               classThrottle,
	"RequestLimitExceeded":                   classThrottle,
	"RequestThrottled":                       classThrottle,
	"RequestThrottledException":              classThrottle,
	"SlowDown":                               classThrottle,

	"InternalFailure":             classRetry,
	"InternalFailureException":    classRetry,
	"InternalError":               classRetry,
	"InternalServerError":         classRetry,
	"ServiceUnavailable":          classRetry,
	"ServiceUnavailableException": classRetry,
	"ResourceInUseException":      classRetry, // stream being created or updated
	"RequestTimeout":              classRetry,
	"RequestTimeoutException":     classRetry,
	"RequestExpired":              classRetry, // clock skew; the SDK corrects it
	"RequestTimeTooSkewed":        classRetry,

	"ResourceNotFoundException":           classUnavailable,
	"AccessDeniedException":               classUnavailable,
	"AccessDenied":                        classUnavailable,
	"NotAuthorized":                       classUnavailable,
	"OptInRequired":                       classUnavailable,
	"UnrecognizedClientException":         classUnavailable,
	"InvalidClientTokenId":                classUnavailable,
	"InvalidSignatureException":           classUnavailable,
	"SignatureDoesNotMatch":               classUnavailable,
	"IncompleteSignature":                 classUnavailable,
	"MissingAuthenticationToken":          classUnavailable,
	"MissingAuthenticationTokenException": classUnavailable,
	"ExpiredToken":                        classUnavailable,
	"ExpiredTokenException":               classUnavailable,
	"KMSAccessDeniedException":            classUnavailable,
	"KMSDisabledException":                classUnavailable,
	"KMSNotFoundException":                classUnavailable,
	"KMSInvalidStateException":            classUnavailable,
	"KMSOptInRequired":                    classUnavailable,

	"ValidationException":      classInvalid,
	"InvalidArgumentException": classInvalid,
	"SerializationException":   classInvalid,
}

// classifyCode classifies the ErrorCode of one failed record. Only throttling
// and operator problems are told apart; anything else is retried.
func classifyCode(code string) class {
	switch c := codes[code]; c {
	case classThrottle, classUnavailable:
		return c
	}
	return classRetry
}

// classify classifies the error of a whole PutRecords call.
func classify(err error) class {
	switch {
	case errors.Is(err, context.Canceled):
		return classCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return classRetry // the call timed out; Kinesis may simply be slow
	}
	if _, skewed := clockSkew(err); skewed {
		// Both clients sign the next call at the clock of this answer.
		return classRetry
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if c, ok := codes[ae.ErrorCode()]; ok {
			return c
		}
	}
	if isCredentials(err) {
		return classUnavailable
	}
	var hs interface{ HTTPStatusCode() int }
	if errors.As(err, &hs) {
		switch s := hs.HTTPStatusCode(); {
		case s == 429:
			return classThrottle
		case s == 401 || s == 403 || s == 404:
			return classUnavailable
		}
	}
	return classRetry // 5xx, network errors, and anything unknown
}

// clockSkewCodes are the codes AWS refuses a request with when its signing
// time is too far from AWS's clock (the SDK's list, and RequestExpired).
var clockSkewCodes = map[string]bool{
	"InvalidSignatureException": true,
	"SignatureDoesNotMatch":     true,
	"AuthFailure":               true,
	"RequestTimeTooSkewed":      true,
	"RequestExpired":            true,
	"AccessDeniedException":     true,
}

// skewThreshold is the clock difference beyond which a refusal with one of
// clockSkewCodes is taken for clock skew (the SDK's threshold; AWS allows 5
// minutes).
const skewThreshold = 4 * time.Minute

// clockSkew reports whether err is a refusal that clock skew explains: a code
// of clockSkewCodes in an answer whose Date is more than skewThreshold from
// the time the request was signed at (X-Amz-Date). skew is the answer's time
// minus the signing time. Both clients correct their clock from such an
// answer, so the next request is signed right.
func clockSkew(err error) (skew time.Duration, ok bool) {
	if err == nil || !clockSkewCodes[errorCode(err)] {
		return 0, false
	}
	var re interface{ HTTPResponse() *smithyhttp.Response }
	if !errors.As(err, &re) || re.HTTPResponse() == nil || re.HTTPResponse().Response == nil {
		return 0, false
	}
	resp := re.HTTPResponse().Response
	date, derr := smithyhttp.ParseTime(resp.Header.Get("Date"))
	if derr != nil || resp.Request == nil {
		return 0, false
	}
	signed, serr := time.Parse("20060102T150405Z", resp.Request.Header.Get("X-Amz-Date"))
	if serr != nil {
		return 0, false
	}
	skew = date.Sub(signed)
	return skew, skew > skewThreshold || skew < -skewThreshold
}

// isCredentials reports a failure to obtain AWS credentials. The SDK gives these
// no type of their own, only its messages.
func isCredentials(err error) bool {
	msg := err.Error()
	for _, s := range []string{
		"get identity:",
		"failed to retrieve credentials",
		"failed to refresh cached credentials",
		"static credentials are empty",
		"no EC2 IMDS role found",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// isNetwork reports a failure to reach the endpoint at all.
func isNetwork(err error) bool {
	var ne net.Error
	var se *smithyhttp.RequestSendError
	return errors.As(err, &ne) || errors.As(err, &se) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// explain says in a few words what an operator has to fix for an error of
// classUnavailable.
func explain(err error, stream string) string {
	code := errorCode(err)
	switch {
	case code == "ResourceNotFoundException":
		return fmt.Sprintf("kinesis stream %q not found", stream)
	case strings.HasPrefix(code, "KMS"):
		return fmt.Sprintf("the KMS key of kinesis stream %q is not usable (%s)", stream, explainCode(code))
	case code == "AccessDeniedException" || code == "AccessDenied" || code == "NotAuthorized":
		return fmt.Sprintf("access denied to kinesis stream %q (the role needs kinesis:PutRecords and kinesis:DescribeStreamSummary)", stream)
	case code != "" && codes[code] == classUnavailable, isCredentials(err):
		return "no valid AWS credentials (checked env, shared files, container and instance roles)"
	}
	return fmt.Sprintf("kinesis stream %q unavailable", stream)
}

// refusal is the error records are answered with when Kinesis refused them
// for a reason of classUnavailable: a *relay.RefusedError (so an ErrUnavailable)
// whose Reason names the failure for the sender, e.g. "Kinesis refused the
// write: AccessDeniedException (the relay's AWS role may not write to the
// stream)", and whose cause says more for the logs. code is the error code,
// of the call or of the record ("" when there is none); err the cause.
func refusal(err error, code, stream string) error {
	reason := "Kinesis refused the write"
	switch {
	case code != "":
		reason += ": " + code
	case isCredentials(err):
		reason = "no valid AWS credentials to write to Kinesis"
	default:
		var hs interface{ HTTPStatusCode() int }
		if errors.As(err, &hs) {
			reason += ": HTTP " + strconv.Itoa(hs.HTTPStatusCode())
		}
	}
	if hint := publicHint(code); hint != "" {
		reason += " (" + hint + ")"
	}
	return &relay.RefusedError{Reason: reason, Err: fmt.Errorf("kinesis: %s: %w", explain(err, stream), err)}
}

// publicHint says in a few words, fit for a sender's answer, what an error
// code of classUnavailable means; "" when there is nothing to add.
func publicHint(code string) string {
	switch {
	case code == "ResourceNotFoundException":
		return "the stream does not exist in the relay's region"
	case code == "AccessDeniedException" || code == "AccessDenied" || code == "NotAuthorized":
		return "the relay's AWS role may not write to the stream"
	case strings.HasPrefix(code, "KMS"):
		return explainCode(code)
	case expiredCredentials(code):
		return "the relay's AWS credentials expired"
	case code != "" && codes[code] == classUnavailable:
		return "the relay's AWS credentials are not valid"
	}
	return ""
}

// expiredCredentials reports an error code that says the credentials (a
// session token) expired: the credentials cache must fetch new ones rather
// than serve the expired ones until the expiry time it believes.
func expiredCredentials(code string) bool {
	return code == "ExpiredTokenException" || code == "ExpiredToken"
}

// explainCode describes a per-record error code an operator has to act on.
func explainCode(code string) string {
	switch code {
	case "KMSAccessDeniedException":
		return "access to the stream's KMS key denied"
	case "KMSDisabledException":
		return "the stream's KMS key is disabled"
	case "KMSNotFoundException":
		return "the stream's KMS key was not found"
	case "KMSInvalidStateException":
		return "the stream's KMS key is in an invalid state"
	case "KMSOptInRequired":
		return "the account is not subscribed to KMS"
	}
	return code
}

// recordRef finds the records a validation message names, e.g.
// "Value at 'records.2.member.data' failed to satisfy constraint".
var recordRef = regexp.MustCompile(`records\.(\d+)\.member`)

// invalidEntries returns the 0-based indexes of the request entries (of n) that
// a validation error names, or nil when it names none.
func invalidEntries(err error, n int) map[int]bool {
	var bad map[int]bool
	for _, m := range recordRef.FindAllStringSubmatch(err.Error(), -1) {
		i, convErr := strconv.Atoi(m[1])
		if convErr != nil || i < 1 || i > n {
			continue
		}
		if bad == nil {
			bad = make(map[int]bool)
		}
		bad[i-1] = true
	}
	return bad
}
