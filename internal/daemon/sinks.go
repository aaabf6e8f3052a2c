package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/logx"
	"github.com/genesys-relay/genesys-relay/kinesis"
	"github.com/genesys-relay/genesys-relay/sqsin"
	"github.com/genesys-relay/genesys-relay/stdout"
)

// Sinks are the sinks of a config's outputs, by output name (one,
// config.DefaultOutput, for a config without outputs:).
type Sinks map[string]relay.Sink

// Close flushes every sink at once, each within ctx, and returns their
// errors joined, each naming its output.
func (s Sinks) Close(ctx context.Context) error {
	errs := make([]error, 0, len(s))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, sink := range s {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sink.Close(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("output %s: %w", name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// NewSinks builds one sink per output of cfg: for Kinesis, one client and one
// Writer each, so each output batches on its own. It checks at start-up that
// every stream exists (DescribeStreamSummary), so a wrong name or region fails
// fast with an error naming the output and the routes that write to it. With
// outputs:, a Writer's metrics carry an output label. The sinks built before
// a failure are closed.
func NewSinks(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, w io.Writer) (Sinks, error) {
	sinks, _, err := newSinks(ctx, cfg, reg, log, w)
	return sinks, err
}

// newSinks is NewSinks, and says where each output's records go.
func newSinks(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, w io.Writer) (Sinks, []destination, error) {
	outputs := cfg.EffectiveOutputs()
	sinks := make(Sinks, len(outputs))
	if cfg.Sink == "stdout" {
		if w == nil {
			w = os.Stdout
		}
		out := stdout.New(w)
		for name, o := range outputs {
			sinks[name] = out
			if len(cfg.Outputs) > 0 {
				sinks[name] = out.Stream(o.Stream)
			}
		}
		return sinks, describeOutputs(cfg, nil), nil
	}
	regions := make(map[string]string, len(outputs))
	for _, name := range slices.Sorted(maps.Keys(outputs)) {
		r := reg
		if reg != nil && len(cfg.Outputs) > 0 {
			r = prometheus.WrapRegistererWith(prometheus.Labels{"output": name}, reg)
		}
		sink, region, err := newKinesisSink(ctx, outputs[name], r, log)
		if err != nil {
			_ = sinks.Close(context.Background())
			if len(cfg.Outputs) == 0 {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("outputs.%s (%s): %w", name, routesTo(cfg, name), err)
		}
		sinks[name], regions[name] = sink, region
	}
	return sinks, describeOutputs(cfg, regions), nil
}

// routesTo names the routes that write to output, for error messages.
func routesTo(cfg *config.Config, output string) string {
	var names []string
	for _, r := range cfg.Routes {
		if r.To == output {
			names = append(names, strconv.Quote(r.Name))
		}
	}
	switch len(names) {
	case 0:
		return "no route writes to it"
	case 1:
		return "route " + names[0]
	}
	return "routes " + strings.Join(names, ", ")
}

// newKinesisSink builds the Writer of one output, through the direct
// PutRecords client unless its client is sdk, and returns the region its
// client resolved (the file's, else the environment's).
func newKinesisSink(ctx context.Context, k config.Kinesis, reg prometheus.Registerer, log *slog.Logger) (relay.Sink, string, error) {
	client, err := kinesis.NewClient(ctx, k.Region, k.Endpoint, awsLogger(log))
	if err != nil {
		return nil, "", err
	}
	region := client.Options().Region
	if !k.SkipStreamCheck {
		if err := kinesis.CheckStream(ctx, client, k.Stream); err != nil {
			return nil, region, err
		}
	}
	var api kinesis.PutRecordsAPI = client
	if k.Client != "sdk" {
		d, err := kinesis.NewDirect(client)
		switch {
		case err == nil:
			api = d
		case errors.Is(err, kinesis.ErrDirectUnsupported):
			log.Warn("kinesis: writing with the SDK client", "reason", err)
		default:
			return nil, region, err
		}
	}
	k.Registerer, k.Logger = reg, log
	// Senders wait for their answers (HTTP, as EventBridge sends; SQS
	// workers): once all of them are in a batch it goes out at once.
	k.EagerFlush = true
	wr, err := kinesis.NewWriter(api, k)
	return wr, region, err
}

// buildSinks returns the sinks Run writes to, by output, where they write,
// and how to close them: o.Sink for every output when set (tests), else
// NewSinks.
func buildSinks(ctx context.Context, o Options, reg prometheus.Registerer, log *slog.Logger) (Sinks, []destination, func(context.Context) error, error) {
	if o.Sink != nil {
		sinks := Sinks{}
		for name := range o.Config.EffectiveOutputs() {
			sinks[name] = o.Sink
		}
		return sinks, describeOutputs(o.Config, nil), o.Sink.Close, nil
	}
	sinks, dests, err := newSinks(ctx, o.Config, reg, log, o.Stdout)
	if err != nil {
		return nil, nil, nil, err
	}
	return sinks, dests, sinks.Close, nil
}

// awsLogger sends the AWS SDK's own warnings through log (JSON) instead of the SDK's
// plain text on stderr.
func awsLogger(log *slog.Logger) func(*awsconfig.LoadOptions) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return awsconfig.WithLogger(logx.AWS(log))
}

// newSQS builds the queue consumer; the returned function runs it until its
// context ends.
func newSQS(ctx context.Context, cfg *config.Config, h relay.Handler, reg prometheus.Registerer, log *slog.Logger) (func(context.Context) error, error) {
	s := cfg.SQS
	client, err := sqsin.NewClient(ctx, sqsin.Region(s.Region, s.QueueURL, cfg.Kinesis.Region), s.Endpoint, awsLogger(log))
	if err != nil {
		return nil, fmt.Errorf("sqs: %w", err)
	}
	s.Registerer, s.Logger = reg, log
	c, err := sqsin.New(client, h, s)
	if err != nil {
		return nil, fmt.Errorf("sqs: %w", err)
	}
	return c.Run, nil
}
