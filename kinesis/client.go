package kinesis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/genesys-relay/genesys-relay/internal/awsconf"
)

// maxIdleConnsPerHost keeps a warm connection for every concurrent PutRecords
// call (the SDK's default of 10 is below DefaultMaxInFlight), so a burst does
// not pay for new TLS handshakes.
const maxIdleConnsPerHost = 256

// NewClient builds a Kinesis client from the default credential chain (env,
// shared files, container and instance roles), through awsconf.Load. region,
// when set, wins over AWS_REGION. endpoint, when set, wins over
// AWS_ENDPOINT_URL_KINESIS and AWS_ENDPOINT_URL (for local emulators such as
// http://127.0.0.1:4568); otherwise those variables keep working. The SDK's
// own retries are off: the Writer retries, record by record, in one place.
// opts are passed on to LoadDefaultConfig (e.g. config.WithLogger).
func NewClient(ctx context.Context, region, endpoint string, opts ...func(*config.LoadOptions) error) (*kinesis.Client, error) {
	cfg, err := awsconf.Load(ctx, awsconf.Settings{
		Section:             "kinesis",
		Region:              region,
		Endpoint:            endpoint,
		MaxIdleConnsPerHost: maxIdleConnsPerHost,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.HTTPClient = awsconf.WrapHTTPClient(o.HTTPClient)
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 1
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// DescribeStreamSummaryAPI is the SDK method CheckStream needs.
type DescribeStreamSummaryAPI interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// CheckStream verifies at start-up that stream exists and can be reached, so a
// wrong name, region, endpoint or role fails the start with a message that says
// which, instead of failing every event later. stream is a name or an ARN.
func CheckStream(ctx context.Context, api DescribeStreamSummaryAPI, stream string) error {
	in := &kinesis.DescribeStreamSummaryInput{}
	if strings.HasPrefix(stream, "arn:") {
		in.StreamARN = aws.String(stream)
	} else {
		in.StreamName = aws.String(stream)
	}
	region, endpoint := "(unknown)", "of the region"
	if c, ok := api.(interface{ Options() kinesis.Options }); ok {
		o := c.Options()
		region = o.Region
		endpoint = "of region " + o.Region
		if o.BaseEndpoint != nil {
			endpoint = *o.BaseEndpoint
		}
	}
	out, err := api.DescribeStreamSummary(ctx, in)
	if _, skewed := clockSkew(err); skewed {
		// The client took the time of Kinesis's clock from the answer (the SDK's
		// clock-skew correction, which otherwise comes with retries, off here):
		// once more, signed at that time.
		out, err = api.DescribeStreamSummary(ctx, in)
		if skew, skewed := clockSkew(err); skewed {
			how := "behind"
			if skew < 0 {
				how, skew = "ahead of", -skew
			}
			return fmt.Errorf("kinesis: clock skew: this host's clock is %v %s Kinesis's, more than the 5 minutes AWS allows; set it right (NTP): %w",
				skew.Round(time.Second), how, err)
		}
	}
	if err != nil {
		switch {
		case errorCode(err) == "ResourceNotFoundException":
			return fmt.Errorf("kinesis stream %q not found in region %s: %w", stream, region, err)
		case classify(err) == classUnavailable:
			return fmt.Errorf("%s (region %s): %w", explain(err, stream), region, err)
		case isNetwork(err) && !errors.Is(err, context.Canceled):
			if tried := triedEndpoint(err); tried != "" {
				endpoint = tried
			}
			return fmt.Errorf("kinesis endpoint %s unreachable: %w", endpoint, err)
		}
		return fmt.Errorf("kinesis: describe stream %q in region %s: %w", stream, region, err)
	}
	if out.StreamDescriptionSummary == nil {
		return nil
	}
	switch s := out.StreamDescriptionSummary.StreamStatus; s {
	case types.StreamStatusActive, types.StreamStatusUpdating, "":
		return nil
	default:
		return fmt.Errorf("kinesis stream %q in region %s is %s, not ACTIVE", stream, region, s)
	}
}

// invalidateCredentials makes the credentials cache of api (the SDK client's,
// which a Direct built from it shares) fetch new credentials for the next
// call. Kinesis said the current ones expired; the cache would otherwise keep
// serving them until the expiry time it was given, which a clock or a
// credential source may have got wrong.
func invalidateCredentials(api PutRecordsAPI) {
	var p aws.CredentialsProvider
	switch c := api.(type) {
	case *Direct:
		p = c.creds
	case interface{ Options() kinesis.Options }:
		p = c.Options().Credentials
	}
	if cc, ok := p.(*aws.CredentialsCache); ok {
		cc.Invalidate()
	}
}

// triedEndpoint returns the scheme and host a failed request was sent to, as
// the SDK resolved them (FIPS and dual-stack hosts, account-specific hosts for
// stream ARNs, AWS_ENDPOINT_URL_KINESIS), or "" when err does not say.
func triedEndpoint(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return ""
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
