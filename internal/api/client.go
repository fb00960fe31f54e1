package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"strongroom"
)

// Client calls the management API; the command-line client is built on it.
// The zero HTTP field means a client trusting the system roots (and
// SSL_CERT_FILE, which Go honours on Linux).
type Client struct {
	BaseURL string // https://host:port
	Token   string // session token; empty before sign-in
	HTTP    *http.Client
}

var kindOfCode = map[string]strongroom.Kind{
	"invalid":           strongroom.Invalid,
	"not_found":         strongroom.NotFound,
	"conflict":          strongroom.Conflict,
	"permission_denied": strongroom.Permission,
	"unauthenticated":   strongroom.Unauthenticated,
	"unavailable":       strongroom.Unavailable,
	"internal":          strongroom.Internal,
	"too_many_requests": strongroom.Throttled,
}

// Do sends one request with in as its JSON body (nil for none) and decodes
// the JSON answer into out (nil to discard). API errors come back as
// *strongroom.Error with the server's kind, message and clause.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return strongroom.E("api.Client", strongroom.Invalid, fmt.Sprintf("bad server URL %q", c.BaseURL), err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("User-Agent", "strongroom-cli")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return strongroom.E("api.Client", strongroom.Unavailable, fmt.Sprintf("cannot reach %s", c.BaseURL), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return strongroom.E("api.Client", strongroom.Unavailable, "reading the answer", err)
	}
	if resp.StatusCode >= 300 {
		var eb errorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" {
			return strongroom.E("api.Client", strongroom.Internal, fmt.Sprintf("server answered %s", resp.Status))
		}
		kind, ok := kindOfCode[eb.Error.Code]
		if !ok {
			kind = strongroom.Internal
		}
		// The message names the clause already; the error adds it again
		// when printed.
		msg := strings.TrimSuffix(eb.Error.Message, " ("+eb.Error.Clause+")")
		if eb.Error.RequestID != "" && kind == strongroom.Internal {
			msg += " (request " + eb.Error.RequestID + ")"
		}
		return &strongroom.Error{Kind: kind, Message: msg, Clause: eb.Error.Clause}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return strongroom.E("api.Client", strongroom.Internal, "the server's answer is not the expected JSON", err)
		}
	}
	return nil
}
