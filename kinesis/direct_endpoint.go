package kinesis

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// ErrDirectUnsupported is NewDirect's error for an SDK client whose endpoint
// the direct client cannot reproduce (a deprecated v1 EndpointResolver); the
// SDK client itself serves such a configuration.
var ErrDirectUnsupported = errors.New("kinesis: the direct PutRecords client does not support this client's endpoint configuration")

// errParamsBound ends the probe call of endpointParams once the SDK has bound
// its endpoint parameters.
var errParamsBound = errors.New("endpoint parameters bound")

// paramsRecorder is an endpoint resolver that records the parameters it is
// asked to resolve and resolves nothing.
type paramsRecorder struct {
	params *kinesis.EndpointParameters
	called *bool
}

func (r paramsRecorder) ResolveEndpoint(_ context.Context, p kinesis.EndpointParameters) (smithyendpoints.Endpoint, error) {
	*r.params, *r.called = p, true
	return smithyendpoints.Endpoint{}, errParamsBound
}

// probeAccountID is the account ID of the probe's credentials; the SDK puts it
// into the parameters only to have endpointParams remove it again.
const probeAccountID = "000000000000"

// endpointParams returns the endpoint parameters the SDK client binds for a
// PutRecords call naming a stream by name, without credentials' account ID:
// region (a FIPS pseudo-region such as fips-us-east-1 or us-east-1-fips
// becomes us-east-1 with UseFIPS), UseFIPS and UseDualStack (from the
// environment, the shared config file or the client's options), the base
// endpoint (the relay's configuration, AWS_ENDPOINT_URL_KINESIS,
// AWS_ENDPOINT_URL), the account ID endpoint mode and the operation type.
//
// Rather than repeat how the SDK derives them (which changes between its
// versions), it asks the SDK: it runs a PutRecords call through the client's
// own operation stack with a resolver that records the parameters and stops
// the call there, before anything is signed or sent. Per call the direct
// client then adds what the SDK adds per call (stream ARN and ID, the account
// ID of the credentials) and resolves with the client's EndpointResolverV2.
func endpointParams(client *kinesis.Client) (kinesis.EndpointParameters, error) {
	var p kinesis.EndpointParameters
	called := false
	in := &kinesis.PutRecordsInput{
		StreamName: aws.String("endpoint-probe"),
		Records:    []types.PutRecordsRequestEntry{{Data: []byte{}, PartitionKey: aws.String("endpoint-probe")}},
	}
	_, err := client.PutRecords(context.Background(), in, func(o *kinesis.Options) {
		o.EndpointResolverV2 = paramsRecorder{&p, &called}
		// Credentials with an account ID satisfy every account ID endpoint
		// mode without asking the real provider (which may call STS or IMDS).
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "probe", SecretAccessKey: "probe", AccountID: probeAccountID, Source: "endpoint-probe"}, nil
		})
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 1
		o.HTTPClient = refuseHTTP{}
	})
	switch {
	case errors.Is(err, errParamsBound):
	case !called && err != nil && errors.As(err, new(refusedSend)):
		// Sent without asking EndpointResolverV2: a v1 resolver chose the
		// endpoint.
		return p, ErrDirectUnsupported
	case err != nil:
		return p, fmt.Errorf("kinesis: resolve the endpoint: %w", err)
	default:
		return p, ErrDirectUnsupported
	}
	p.StreamARN, p.StreamId, p.AccountId = nil, nil, nil
	return p, nil
}

// refuseHTTP is the probe's HTTP client: the probe never sends, and if the
// SDK tried, this says so.
type refuseHTTP struct{}

type refusedSend struct{}

func (refusedSend) Error() string { return "the endpoint probe does not send" }

func (refuseHTTP) Do(*http.Request) (*http.Response, error) { return nil, refusedSend{} }
