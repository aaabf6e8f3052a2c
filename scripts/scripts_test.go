// Package scripts holds the tests of the shell scripts in this directory: that they
// stop at once, with the port named, when an emulator cannot start, and that the
// emulators pick free ports when asked to.
package scripts

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needNode skips (or, in CI, fails) a test that runs the emulator scripts without
// node and npm, which scripts/emulators.sh needs to install and start them.
func needNode(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"bash", "node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("RELAY_TEST_REQUIRE_EMULATORS") == "1" {
				t.Fatalf("%s not found but RELAY_TEST_REQUIRE_EMULATORS=1", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
}

// takenPort listens on a free loopback port for the rest of the test.
func takenPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// script runs a script of this directory with env added to a clean copy of the
// environment: its own emulator state directory (so that it never touches the
// emulators of the scripts/test run it is part of) and none of the port settings of
// that run.
func script(t *testing.T, timeout time.Duration, env []string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "./"+name, args...)
	cmd.WaitDelay = 10 * time.Second
	state := t.TempDir()
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "KINESIS_LOCAL_PORT", "KINESIS_LOCAL_TLS_PORT", "FAUXQS_PORT", "EMULATORS_STATE_DIR":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "EMULATORS_STATE_DIR="+state)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s did not end within %v\nstdout:\n%s\nstderr:\n%s", name, timeout, out.String(), errb.String())
	}
	return out.String(), errb.String(), err
}

// TestTakenPortStopsAtOnce: when a port set for an emulator is taken, the emulators,
// the test run and the demo all stop with a message naming the port, and run nothing
// after it (no test, no build, no "unbound variable").
func TestTakenPortStopsAtOnce(t *testing.T) {
	needNode(t)
	for _, tc := range []struct {
		script, variable string
		args             []string
		never            []string // output that shows the script went on
	}{
		{"emulators.sh", "KINESIS_LOCAL_PORT", []string{"start"}, []string{"RELAY_TEST_"}},
		{"emulators.sh", "FAUXQS_PORT", []string{"start"}, []string{"RELAY_TEST_"}},
		{"emulators.sh", "KINESIS_LOCAL_TLS_PORT", []string{"start"}, []string{"RELAY_TEST_"}},
		// -run '^$' would make a run that goes on pass quickly: it must not get there.
		{"test", "KINESIS_LOCAL_PORT", []string{"-run", "^$"}, []string{"== go vet", "== go test", "ok ", "no test files"}},
		{"demo", "FAUXQS_PORT", nil, []string{"== building", "unbound variable", "== sending"}},
		{"demo-https", "KINESIS_LOCAL_PORT", nil, []string{"== building", "unbound variable", "== sending"}},
	} {
		t.Run(tc.script+"/"+tc.variable, func(t *testing.T) {
			port := takenPort(t)
			out, errs, err := script(t, 3*time.Minute, []string{tc.variable + "=" + port}, tc.script, tc.args...)
			if err == nil {
				t.Errorf("%s succeeded with %s=%s taken", tc.script, tc.variable, port)
			}
			if !strings.Contains(errs, "port "+port) || !strings.Contains(errs, tc.variable) {
				t.Errorf("stderr does not name port %s and %s:\n%s", port, tc.variable, errs)
			}
			for _, s := range tc.never {
				if strings.Contains(out, s) || strings.Contains(errs, s) {
					t.Errorf("%s went on after the failed start (%q in its output)\nstdout:\n%s\nstderr:\n%s", tc.script, s, out, errs)
				}
			}
		})
	}
}

// startEmulators starts the emulators on free ports with their state in a
// directory of the test's own, stops them when the test ends, and returns that
// directory and the env lines start printed.
func startEmulators(t *testing.T) (state string, vars map[string]string) {
	t.Helper()
	state = t.TempDir()
	env := []string{"KINESIS_LOCAL_PORT=0", "KINESIS_LOCAL_TLS_PORT=0", "FAUXQS_PORT=0", "EMULATORS_STATE_DIR=" + state}
	t.Cleanup(func() {
		if _, errs, err := script(t, time.Minute, []string{"EMULATORS_STATE_DIR=" + state}, "emulators.sh", "stop"); err != nil {
			t.Errorf("stop: %v\n%s", err, errs)
		}
	})
	out, errs, err := script(t, 3*time.Minute, env, "emulators.sh", "start")
	if err != nil {
		t.Fatalf("start: %v\n%s", err, errs)
	}
	vars = map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vars[k] = v
		}
	}
	return state, vars
}

// checkEmulatorsAnswer fails the test unless both emulators named by vars answer
// their health checks.
func checkEmulatorsAnswer(t *testing.T, vars map[string]string) {
	t.Helper()
	for k, health := range map[string]string{"RELAY_TEST_KINESIS_ENDPOINT": "/healthcheck", "RELAY_TEST_SQS_ENDPOINT": "/health"} {
		u := vars[k]
		if u == "" || strings.HasSuffix(u, ":0") {
			t.Fatalf("%s=%q; want a chosen port", k, u)
		}
		resp, err := http.Get(u + health)
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s%s: %s", u, health, resp.Status)
		}
	}
}

// TestDemosLeaveRunningEmulators: a demo run while the emulators already run (a
// scripts/test run, another demo) uses them and leaves them running when it ends.
func TestDemosLeaveRunningEmulators(t *testing.T) {
	needNode(t)
	if testing.Short() {
		t.Skip("runs both demos")
	}
	state, vars := startEmulators(t)
	for _, demo := range []string{"demo", "demo-https"} {
		out, errs, err := script(t, 5*time.Minute, []string{"EMULATORS_STATE_DIR=" + state}, demo)
		if err != nil || !strings.Contains(out, "records in") {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", demo, err, out, errs)
		}
		checkEmulatorsAnswer(t, vars)
	}
}

// TestFreePorts: port 0 makes the emulators pick free ports, which the env lines pass
// on, and both emulators answer there.
func TestFreePorts(t *testing.T) {
	needNode(t)
	state, vars := startEmulators(t)
	checkEmulatorsAnswer(t, vars)
	// relay-env names the same endpoints for running the relay by hand.
	renv, errs, err := script(t, time.Minute, []string{"EMULATORS_STATE_DIR=" + state}, "emulators.sh", "relay-env")
	if err != nil {
		t.Fatalf("relay-env: %v\n%s", err, errs)
	}
	if !strings.Contains(renv, "KINESIS_ENDPOINT="+vars["RELAY_TEST_KINESIS_ENDPOINT"]+"\n") ||
		!strings.Contains(renv, "AWS_ENDPOINT_URL_SQS="+vars["RELAY_TEST_SQS_ENDPOINT"]+"\n") {
		t.Errorf("relay-env does not name the running emulators:\n%s\nstart printed: %v", renv, vars)
	}
}
