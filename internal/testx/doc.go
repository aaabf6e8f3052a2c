// Package testx holds what the tests of several packages share, so that each
// is written once:
//
//   - waiting: Eventually and WaitFor poll a condition with a deadline, the one
//     way a test waits for something another goroutine or process does;
//   - metrics: Lookup, Value and HasSample read a series from a Prometheus
//     registry or from a scraped /metrics page (Scrape), next to
//     client_golang's prometheus/testutil, which reads a single collector;
//   - AWS: AWSEnv isolates the SDK from the machine's configuration, and
//     KinesisEndpoint, SQSEndpoint, NewStream and ReadAll give a test the local
//     emulators that scripts/test starts;
//   - files and logs: ReadLines reads a JSON Lines sample file, Buffer collects
//     what a server's goroutines log.
//
// It imports no package of the relay, so that any package's own tests can use it.
package testx
