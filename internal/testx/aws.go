package testx

import (
	"os"
	"path/filepath"
	"testing"
)

// AWSEnv gives the AWS SDK static test credentials ("test"/"test") and region,
// and nothing else from the machine: the shared config and credentials files
// are empty, instance metadata is off, and no profile, session token, endpoint
// or CA bundle variable is set. A test then reaches only the endpoint it names.
// Everything is restored when the test ends (t.Setenv).
func AWSEnv(t testing.TB, region string) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_REGION":                  region,
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	for _, k := range []string{
		"AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CA_BUNDLE",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_SQS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	} {
		t.Setenv(k, "")
		os.Unsetenv(k) // set but empty is not always unset for the SDK
	}
}
