package awsconf

import (
	"context"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/genesys-relay/genesys-relay/internal/testtls"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestLoadRegion: a region in the configuration wins over AWS_REGION, which
// fills an empty one; with neither the error names the section's key.
func TestLoadRegion(t *testing.T) {
	ctx := context.Background()
	testx.AWSEnv(t, "us-west-2")
	cfg, err := Load(ctx, Settings{Section: "sqs", Region: "eu-west-1"})
	if err != nil || cfg.Region != "eu-west-1" {
		t.Errorf("configured region: %q, %v", cfg.Region, err)
	}
	cfg, err = Load(ctx, Settings{Section: "sqs"})
	if err != nil || cfg.Region != "us-west-2" {
		t.Errorf("AWS_REGION: %q, %v", cfg.Region, err)
	}
	testx.AWSEnv(t, "")
	if _, err := Load(ctx, Settings{Section: "outputs.audit"}); err == nil || !strings.HasPrefix(err.Error(), "outputs.audit.region: not set") {
		t.Errorf("no region: %v", err)
	}
}

func TestLoadEndpoint(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	for _, ok := range []string{"", "http://127.0.0.1:4568", "https://proxy.example/kinesis"} {
		if _, err := Load(context.Background(), Settings{Section: "kinesis", Endpoint: ok}); err != nil {
			t.Errorf("endpoint %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"localhost:4568", "ftp://x", "http://", "://x"} {
		_, err := Load(context.Background(), Settings{Section: "sqs", Endpoint: bad})
		if err == nil || !strings.HasPrefix(err.Error(), "sqs.endpoint: ") {
			t.Errorf("endpoint %q: %v", bad, err)
		}
	}
}

// TestLoadHTTPClient: the idle connections asked for, the CA bundle of
// AWS_CA_BUNDLE kept, and LoadDefaultConfig's options passed on.
func TestLoadHTTPClient(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	t.Setenv("AWS_CA_BUNDLE", testtls.WriteFile(t, t.TempDir(), "ca.pem", testtls.NewCA(t, "bundle CA").PEM))
	cfg, err := Load(context.Background(), Settings{Section: "kinesis", MaxIdleConnsPerHost: 77}, config.WithRetryMaxAttempts(7))
	if err != nil {
		t.Fatal(err)
	}
	bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTP client %T", cfg.HTTPClient)
	}
	tr := bc.GetTransport()
	if tr.MaxIdleConnsPerHost != 77 || tr.MaxIdleConns < 77 {
		t.Errorf("idle connections %d per host, %d in all", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.RootCAs == nil {
		t.Error("the CA bundle of AWS_CA_BUNDLE was lost")
	}
	if cfg.RetryMaxAttempts != 7 {
		t.Errorf("an option was not passed on: RetryMaxAttempts %d", cfg.RetryMaxAttempts)
	}

	cfg, err = Load(context.Background(), Settings{Section: "sqs"})
	if err != nil {
		t.Fatal(err)
	}
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok && bc.GetTransport().MaxIdleConnsPerHost == 77 {
		t.Error("a client that asked for no tuning was tuned")
	}
}
