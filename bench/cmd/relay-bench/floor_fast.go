package main

import (
	"encoding/json"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// serveFastFloor is the floor server on github.com/valyala/fasthttp instead of
// net/http, with the same limits, to measure what the HTTP server costs.
func serveFastFloor(ln net.Listener, valid bool, answer, bad []byte) error {
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			switch string(ctx.Path()) {
			case "/readyz":
				ctx.SetBodyString("ready\n")
				return
			case "/eventbridge":
			default:
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			if !ctx.IsPost() {
				ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
				return
			}
			ctx.SetContentType("application/json")
			if valid && !json.Valid(ctx.PostBody()) {
				ctx.SetStatusCode(fasthttp.StatusBadRequest)
				ctx.SetBody(bad)
				return
			}
			ctx.SetBody(answer)
		},
		ReadTimeout:           4 * time.Second,
		WriteTimeout:          6 * time.Second,
		IdleTimeout:           120 * time.Second,
		MaxRequestBodySize:    1 << 20,
		NoDefaultServerHeader: true,
		NoDefaultDate:         false,
	}
	return srv.Serve(ln)
}
