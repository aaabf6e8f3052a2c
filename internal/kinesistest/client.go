package kinesistest

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/genesys-relay/genesys-relay/internal/awsconf"
)

// AWSConfig returns an SDK configuration that reaches this server: its
// region, static dummy credentials, BaseEndpoint set to URL, and an HTTP
// client wrapped by [SafeHTTPClient]. It reads nothing from the environment
// or shared files.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       s.opts.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(s.url),
		HTTPClient:   SafeHTTPClient(nil),
	}
}

// NewClient returns an SDK kinesis client for this server, built from
// AWSConfig. The SDK's default retryer applies unless optFns change it
// (e.g. o.RetryMaxAttempts = 1 to see every fault).
func (s *Server) NewClient(optFns ...func(*kinesis.Options)) *kinesis.Client {
	return kinesis.NewFromConfig(s.AWSConfig(), optFns...)
}

// SafeHTTPClient wraps c (nil means the SDK's default HTTP client) so that
// request bodies reach net/http without a WriteTo method; see
// [awsconf.WrapHTTPClient], which the relay's own clients use, for the smithy-go race
// this avoids. Without it a server as fast as this one on loopback sometimes
// sees a call fail after it stored the records, and a retry writes them twice.
func SafeHTTPClient(c aws.HTTPClient) aws.HTTPClient {
	return awsconf.WrapHTTPClient(c)
}
