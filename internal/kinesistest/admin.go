package kinesistest

import (
	"encoding/json"
	"io"
	"net/http"
)

// adminPrefix is the path of the control endpoints, for a server running in
// another process (see bench/cmd/kinesis-fake). Kinesis itself only serves POST /,
// so these paths cannot clash with the protocol.
//
//	GET  /_kinesistest/stats   counters as JSON (Stats)
//	GET  /_kinesistest/faults  current Faults as JSON (durations in nanoseconds)
//	PUT  /_kinesistest/faults  replace the Faults
//	POST /_kinesistest/reset   Reset
const adminPrefix = "/_kinesistest/"

// Stats is a snapshot of the server's counters.
type Stats struct {
	Calls           int64 `json:"calls"`
	RecordsReceived int64 `json:"records_received"`
	Stored          int64 `json:"stored"`
	Duplicates      int64 `json:"duplicates"`
	FailedRecords   int64 `json:"failed_records"`
	FailedCalls     int64 `json:"failed_calls"`
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Calls:           s.Calls(),
		RecordsReceived: s.RecordsReceived(),
		Stored:          s.Stored(),
		Duplicates:      s.Duplicates(),
		FailedRecords:   s.FailedRecords(),
		FailedCalls:     s.FailedCalls(),
	}
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch path := r.URL.Path[len(adminPrefix):]; {
	case path == "stats" && r.Method == http.MethodGet:
		reply(s.Stats())
	case path == "faults" && r.Method == http.MethodGet:
		reply(s.Faults())
	case path == "faults" && r.Method == http.MethodPut:
		var f Faults
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetFaults(f)
		reply(f)
	case path == "reset" && r.Method == http.MethodPost:
		s.Reset()
		reply(s.Stats())
	default:
		http.Error(w, "unknown control endpoint", http.StatusNotFound)
	}
}
