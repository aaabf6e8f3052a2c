// Package kinesistest provides a Kinesis-compatible HTTP server for tests and
// benchmarks of code that writes to Amazon Kinesis Data Streams with the AWS
// SDK for Go v2.
//
// The server speaks the wire protocol the SDK's kinesis client uses — AWS
// JSON 1.1: POST / with X-Amz-Target "Kinesis_20131202.<Operation>",
// Content-Type "application/x-amz-json-1.1", blobs as base64 strings, and
// errors as a JSON body {"__type": "<Code>", "message": "..."} with a 4xx or
// 5xx status — so production client code runs against it unchanged; only the
// endpoint differs. It implements PutRecords, PutRecord,
// DescribeStreamSummary and ListShards.
//
// It exists because local emulators of Kinesis cannot misbehave on demand:
// they never throttle, never fail part of a batch, never answer 500 or 503,
// never hang. This server injects those faults at seeded, reproducible rates
// that can be changed while it runs (see [Faults] and [Server.SetFaults]).
// It also refuses writes as Kinesis does after an operator's mistake
// ([Faults].Refuse: AccessDeniedException, ExpiredTokenException, KMS errors,
// with Kinesis's messages), and can run its clock off the host's
// ([Options].ClockOffset), refusing requests signed more than 5 minutes from
// it as Kinesis does. It records what it stored so a test can check that
// every event arrived, how many calls it took, and how many records were
// written twice.
//
// Bodies are read with encoding/json. With [Options.Discard] it keeps
// counters only; a benchmark's endpoint, which shares the CPU with the
// process under test, also sets [Options.DecodePut] to a decoder that reads
// bodies in place (the bench module's kinesisfast), as encoding/json would
// cost more than the client being measured.
package kinesistest
