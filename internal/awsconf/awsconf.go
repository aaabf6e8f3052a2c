// Package awsconf is the one AWS SDK set-up of the relay's clients (Kinesis
// and SQS): the default credential chain, the region, the endpoint and the
// HTTP client, so that both read the environment and the configuration file
// the same way and fail with the same kind of message.
package awsconf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Settings are what a section of relay.yaml (kinesis:, an output, sqs:) says
// about the client of its service.
type Settings struct {
	// Section names the configuration section in errors ("kinesis", "sqs",
	// "outputs.NAME").
	Section string
	// Region, when set, wins over AWS_REGION and the shared config file's
	// region. The configuration fills an empty one from AWS_REGION itself (see
	// config.Parse); Lambda always sets AWS_REGION, to the function's region,
	// and a stream or queue elsewhere must stay reachable from there.
	Region string
	// Endpoint, when set, must be an http(s) URL. Load only checks it: the
	// service client sets it as its BaseEndpoint option, where it wins over
	// AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL, which keep working when
	// it is empty. (aws.Config.BaseEndpoint would lose to them.)
	Endpoint string
	// MaxIdleConnsPerHost, when positive, is how many idle connections per
	// host the HTTP client keeps (the SDK keeps 10), so that as many calls at
	// once as that do not each pay for a new TLS handshake.
	MaxIdleConnsPerHost int
}

// Load returns the SDK configuration of a client of the relay: the default
// credential chain (environment, shared files, container and instance
// roles), the region, and an HTTP client tuned by s.MaxIdleConnsPerHost. A
// custom CA bundle (AWS_CA_BUNDLE) is kept. opts go to
// config.LoadDefaultConfig after the region (e.g. config.WithLogger). Errors
// name the configuration key at fault.
//
// The service client built from it sets, in its options, HTTPClient to
// WrapHTTPClient(o.HTTPClient) (after the SDK has applied AWS_DEFAULTS_MODE's
// timeouts to it, which it does only to its own client type) and BaseEndpoint
// to s.Endpoint when that is set.
func Load(ctx context.Context, s Settings, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return aws.Config{}, fmt.Errorf("%s.endpoint: %q is not an http(s) URL", s.Section, s.Endpoint)
		}
	}
	var loadOpts []func(*config.LoadOptions) error
	if s.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(s.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(loadOpts, opts...)...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%s: load AWS configuration: %w", s.Section, err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New(s.Section + ".region: not set (set it in the configuration or AWS_REGION)")
	}
	cfg.HTTPClient = tune(cfg.HTTPClient, s.MaxIdleConnsPerHost)
	return cfg, nil
}

// tune returns the HTTP client LoadDefaultConfig chose (nil: the SDK's
// default), as a copy keeping maxIdle idle connections per host when
// maxIdle is positive. LoadDefaultConfig has put a custom CA bundle, if any,
// into a BuildableClient: a copy of that keeps it. A client of another type
// (from an option) is left as it is.
func tune(c aws.HTTPClient, maxIdle int) aws.HTTPClient {
	if maxIdle <= 0 {
		return c
	}
	var bc *awshttp.BuildableClient
	switch c := c.(type) {
	case nil:
		bc = awshttp.NewBuildableClient()
	case *awshttp.BuildableClient:
		bc = c
	default:
		return c
	}
	return bc.WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 2 * maxIdle
		tr.MaxIdleConnsPerHost = maxIdle
		tr.IdleConnTimeout = 90 * time.Second
	})
}
