package kinesistest

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// AWSConfig returns an SDK configuration that reaches this server: its
// region, static dummy credentials and BaseEndpoint set to URL. It reads
// nothing from the environment or shared files.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       s.opts.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(s.url),
	}
}

// NewClient returns an SDK kinesis client for this server, built from
// AWSConfig. The SDK's default retryer applies unless optFns change it
// (e.g. o.RetryMaxAttempts = 1 to see every fault).
func (s *Server) NewClient(optFns ...func(*kinesis.Options)) *kinesis.Client {
	return kinesis.NewFromConfig(s.AWSConfig(), optFns...)
}
