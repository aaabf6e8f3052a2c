package sqsin

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/genesys-relay/genesys-relay/internal/awshttpx"
)

// NewClient returns an SQS client using the AWS default credential chain (environment,
// shared files, ECS/EC2/IRSA roles). region overrides the configured region when not
// empty. endpoint, when not empty, wins over AWS_ENDPOINT_URL_SQS and
// AWS_ENDPOINT_URL; it exists for local emulators. loadOpts are passed on to
// LoadDefaultConfig (e.g. config.WithLogger for the SDK's own warnings).
func NewClient(ctx context.Context, region, endpoint string, loadOpts ...func(*config.LoadOptions) error) (*sqs.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(opts, loadOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("sqs client: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("sqs client: no AWS region: set AWS_REGION or a region in the AWS config")
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		// A fast endpoint would otherwise sometimes see a delete fail after it
		// was done.
		o.HTTPClient = awshttpx.Wrap(o.HTTPClient)
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
