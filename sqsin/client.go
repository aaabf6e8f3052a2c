package sqsin

import (
	"context"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/genesys-relay/genesys-relay/internal/awsconf"
)

// NewClient returns an SQS client using the AWS default credential chain (environment,
// shared files, ECS/EC2/IRSA roles), through awsconf.Load. region, when set, wins over
// AWS_REGION (see Region for the one serve passes). endpoint, when set, wins over
// AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL; it exists for local emulators. opts are
// passed on to LoadDefaultConfig (e.g. config.WithLogger).
func NewClient(ctx context.Context, region, endpoint string, opts ...func(*config.LoadOptions) error) (*sqs.Client, error) {
	cfg, err := awsconf.Load(ctx, awsconf.Settings{Section: "sqs", Region: region, Endpoint: endpoint}, opts...)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.HTTPClient = awsconf.WrapHTTPClient(o.HTTPClient)
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// Region is the region of the SQS client for the queue at queueURL: configured
// (sqs.region) when set; else the region an AWS queue URL names
// (https://sqs.eu-west-1.amazonaws.com/…, https://sqs-fips.us-east-1.amazonaws.com/…,
// legacy https://eu-west-1.queue.amazonaws.com/…), because the queue is there
// whatever region the relay runs in; else fallback (the Kinesis region). ""
// leaves the choice to the SDK (AWS_REGION, profile).
func Region(configured, queueURL, fallback string) string {
	if configured != "" {
		return configured
	}
	if r := queueRegion(queueURL); r != "" {
		return r
	}
	return fallback
}

// queueRegion returns the region in the host of an AWS SQS queue URL, or "".
func queueRegion(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	var rest string
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn", ".api.aws"} {
		if r, ok := strings.CutSuffix(host, suffix); ok {
			rest = r
			break
		}
	}
	labels := strings.Split(rest, ".")
	if len(labels) != 2 {
		return ""
	}
	switch {
	case labels[0] == "sqs" || labels[0] == "sqs-fips":
		return labels[1]
	case labels[1] == "queue":
		return labels[0]
	}
	return ""
}
