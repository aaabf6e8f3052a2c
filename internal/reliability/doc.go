// Package reliability holds end-to-end tests of the relay's delivery guarantee:
// an event is answered 200 only when Kinesis accepted its record (or a rule
// dropped it on purpose), and every other answer makes the sender retry (429,
// 503) or dead-letter (400, 413). The tests run the daemon in process and the
// real binary as a child process against the fault-injecting Kinesis server of
// internal/kinesistest, under throttling, request failures, hangs, crashes,
// SIGTERM, overload, slow and hostile clients. README.md holds the figures.
package reliability
