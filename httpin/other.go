package httpin

import (
	"net/url"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// serveOther serves a path other than the ingest path: the ops endpoints
// (/healthz, /readyz, /metrics) through ServerOptions.Other. Those are net/http
// handlers reached through fasthttpadaptor, which answers what it cannot
// convert with a text 500 and whose net/http mux answers CONNECT, "*" and
// unclean paths with text or HTML; such odd requests get the JSON 404 every
// other refusal looks like instead, and never reach Other.
//
// Ops endpoints take no body, and the adaptor would read a whole one into
// memory first (even a chunked one beyond http.max_body_bytes), so the body is
// dropped unread: the server reads what is left after the answer (up to
// 256 KiB) or closes the connection.
func (s *Server) serveOther(c *fasthttp.RequestCtx) {
	if c.IsConnect() || !cleanTarget(c.RequestURI()) {
		notFound(c)
		return
	}
	c.Request.ResetBody()
	s.other(c)
}

// cleanTarget reports whether uri is a request target net/http's mux serves
// as is: it parses, and its path is absolute and clean (a trailing slash
// allowed) so the mux does not redirect.
func cleanTarget(uri []byte) bool {
	u, err := url.ParseRequestURI(string(uri))
	if err != nil || !strings.HasPrefix(u.Path, "/") {
		return false
	}
	p := u.Path
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean == p
}

// notFound is the answer for a path nobody serves.
func notFound(c *fasthttp.RequestCtx) {
	c.SetStatusCode(fasthttp.StatusNotFound)
	c.Response.Header.SetContentTypeBytes(jsonContentType)
	c.Response.SetBodyString(`{"error":"not found"}` + "\n")
}
