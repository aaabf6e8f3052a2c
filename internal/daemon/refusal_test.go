package daemon_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestRefusedWriteAnswer: when Kinesis refuses writes for a reason an operator
// must fix, the HTTP answer is 503 (EventBridge retries it later) and says what
// failed, not that it was slow, without the role, account or key Kinesis's
// message names; with either PutRecords client.
func TestRefusedWriteAnswer(t *testing.T) {
	for _, client := range []string{"direct", "sdk"} {
		for _, code := range []string{"AccessDeniedException", "KMSAccessDeniedException", "ExpiredTokenException"} {
			t.Run(client+"/"+code, func(t *testing.T) {
				srv := kinesistest.New(kinesistest.Options{Streams: []string{"refused"}, AccountID: "123456789012",
					Faults: kinesistest.Faults{Refuse: code}})
				defer srv.Close()
				testx.AWSEnv(t, "us-east-1")
				cfg := exampleConfig(t, "relay.yaml")
				cfg.Kinesis.Stream, cfg.Kinesis.Endpoint, cfg.Kinesis.Region = "refused", srv.URL(), "us-east-1"
				cfg.Kinesis.Client = client
				d := daemontest.Start(t, daemon.Options{Config: cfg})

				a := post(t, http.DefaultClient, d.URL, forwardEvent("ev-refused-1"))
				msg := fmt.Sprint(a.body["error"])
				if a.code != 503 || !strings.HasPrefix(msg, "Kinesis refused the write: "+code+" (") {
					t.Errorf("answer %d %q; want 503 naming %s", a.code, msg, code)
				}
				for _, secret := range []string{"arn:", "123456789012", "assumed-role", "in time"} {
					if strings.Contains(msg, secret) {
						t.Errorf("answer %q shows %q", msg, secret)
					}
				}
				if srv.Stored() != 0 {
					t.Errorf("%d records stored", srv.Stored())
				}
			})
		}
	}
}
