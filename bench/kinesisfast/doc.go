// Package kinesisfast reads the bodies of Kinesis PutRecords and PutRecord
// calls in place, for the Kinesis-compatible test server of the benchmarks
// (internal/kinesistest in Discard mode, with [Decode] as its
// Options.DecodePut).
//
// The end-to-end benchmark runs that server in its own process, beside the
// relay on the same cores: whatever CPU the server spends is taken from the
// relay. kinesistest decodes bodies with encoding/json, which for a PutRecords
// call of 500 records of 1 KiB spends about 5 ms where this scanner spends
// 0.2 ms, so the benchmark's endpoint would cost more than the relay's own
// Kinesis client (BenchmarkPutRecordsDiscard in this package:
// go test -run '^$' -bench PutRecordsDiscard ./kinesisfast). The scanner skips
// what a discarding server does not need: it does not decode the base64 of
// Data, only counts the bytes it stands for.
package kinesisfast
