// Package kinesisclient holds BenchmarkPutRecordsClient, which compares the
// relay's two Kinesis clients, the SDK's and kinesis.Direct, end to end over
// loopback HTTP:
//
//	go test ./kinesisclient -run '^$' -bench PutRecordsClient -benchmem
//
// It lives in the bench module because its endpoint must cost less than the
// clients it measures: kinesistest reads bodies with kinesisfast there.
package kinesisclient
