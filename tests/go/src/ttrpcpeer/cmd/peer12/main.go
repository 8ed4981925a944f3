// Command peer12 is the Go ttrpc 1.2.7 reference peer (streams) for
// shimtypes' interop tests and benchmark. It builds only against ttrpc 1.2
// (Debian sid's golang-github-containerd-ttrpc-dev placed first in GOPATH).
//
//	peer12 server -socket PATH
//	peer12 client -socket PATH -test NAME [-arg JSON]
//	peer12 bench-client -socket PATH -mode echo|up|down -duration S [-warmup S] [-payload N]
//
// The service ttrpcpeer.Streams (tests/interop/_streams.py is its Python twin):
//
//	Echo      unary   StringValue -> StringValue
//	Metadata  unary   Empty -> StringValue (sorted "k=v" lines of the request metadata)
//	Count     server  UInt32Value n -> "0".."n-1"; n == 13 then fails NotFound "unlucky"
//	Join      client  StringValue... -> "a+b+..."
//	Upper     bidi    StringValue -> upper-cased; "boom" fails FailedPrecondition "boom mid-stream"
//	Bytes     bidi    BytesValue echoed (benchmark)
//	Sink      client  BytesValue... -> UInt64Value count (benchmark)
//	Source    server  UInt64Value n -> n BytesValue of -payload bytes (benchmark)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const service = "ttrpcpeer.Streams"

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "peer12: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: peer12 server|client|bench-client [flags]")
	}
	mode, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path")
	test := fs.String("test", "", "client: scenario name")
	arg := fs.String("arg", "", "client: scenario argument (JSON)")
	benchMode := fs.String("mode", "echo", "bench-client: echo (bidi), up (client stream), down (server stream)")
	payload := fs.Int("payload", 0, "bench: message bytes")
	duration := fs.Float64("duration", 2, "bench-client: seconds to measure")
	warmup := fs.Float64("warmup", 0.3, "bench-client: seconds to warm up first")
	_ = fs.Parse(args)
	if *socket == "" {
		fatalf("-socket is required")
	}
	switch mode {
	case "server", "bench-server":
		runServer(*socket, *payload)
	case "client":
		runClient(*socket, *test, *arg)
	case "bench-client":
		runBench(*socket, *benchMode, *payload, *duration, *warmup)
	default:
		fatalf("unknown mode %q", mode)
	}
}

// -- server ---------------------------------------------------------------

func desc(payload int) *ttrpc.ServiceDesc {
	return &ttrpc.ServiceDesc{
		Methods: map[string]ttrpc.Method{
			"Echo": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
				var req wrapperspb.StringValue
				if err := unmarshal(&req); err != nil {
					return nil, err
				}
				return &req, nil
			},
			"Metadata": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
				var req emptypb.Empty
				if err := unmarshal(&req); err != nil {
					return nil, err
				}
				md, _ := ttrpc.GetMetadata(ctx)
				var lines []string
				for k, vs := range md {
					for _, v := range vs {
						lines = append(lines, k+"="+v)
					}
				}
				sort.Strings(lines)
				return wrapperspb.String(strings.Join(lines, "\n")), nil
			},
		},
		Streams: map[string]ttrpc.Stream{
			"Count": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				var req wrapperspb.UInt32Value
				if err := ss.RecvMsg(&req); err != nil {
					return nil, err
				}
				for i := uint32(0); i < req.Value; i++ {
					if err := ss.SendMsg(wrapperspb.String(fmt.Sprint(i))); err != nil {
						return nil, err
					}
				}
				if req.Value == 13 {
					return nil, status.Error(codes.NotFound, "unlucky")
				}
				return nil, nil
			}},
			"Join": {StreamingClient: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				var parts []string
				for {
					var m wrapperspb.StringValue
					if err := ss.RecvMsg(&m); err != nil {
						if errors.Is(err, io.EOF) {
							return wrapperspb.String(strings.Join(parts, "+")), nil
						}
						return nil, err
					}
					parts = append(parts, m.Value)
				}
			}},
			"Upper": {StreamingClient: true, StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				for {
					var m wrapperspb.StringValue
					if err := ss.RecvMsg(&m); err != nil {
						if errors.Is(err, io.EOF) {
							return nil, nil
						}
						return nil, err
					}
					if m.Value == "boom" {
						return nil, status.Error(codes.FailedPrecondition, "boom mid-stream")
					}
					if err := ss.SendMsg(wrapperspb.String(strings.ToUpper(m.Value))); err != nil {
						return nil, err
					}
				}
			}},
			"Bytes": {StreamingClient: true, StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				for {
					var m wrapperspb.BytesValue
					if err := ss.RecvMsg(&m); err != nil {
						if errors.Is(err, io.EOF) {
							return nil, nil
						}
						return nil, err
					}
					if err := ss.SendMsg(&m); err != nil {
						return nil, err
					}
				}
			}},
			"Sink": {StreamingClient: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				var n uint64
				for {
					var m wrapperspb.BytesValue
					if err := ss.RecvMsg(&m); err != nil {
						if errors.Is(err, io.EOF) {
							return wrapperspb.UInt64(n), nil
						}
						return nil, err
					}
					n++
				}
			}},
			"Source": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				var req wrapperspb.UInt64Value
				if err := ss.RecvMsg(&req); err != nil {
					return nil, err
				}
				msg := wrapperspb.Bytes(make([]byte, payload))
				for i := uint64(0); i < req.Value; i++ {
					if err := ss.SendMsg(msg); err != nil {
						return nil, err
					}
				}
				return nil, nil
			}},
		},
	}
}

func runServer(socket string, payload int) {
	srv, err := ttrpc.NewServer()
	if err != nil {
		fatalf("new server: %v", err)
	}
	srv.RegisterService(service, desc(payload))
	l, err := net.Listen("unix", socket)
	if err != nil {
		fatalf("listen %s: %v", socket, err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()
	fmt.Println("ready")
	select {
	case <-sigs:
		_ = srv.Close()
	case err := <-served:
		fatalf("serve: %v", err)
	}
}

// -- client scenarios -------------------------------------------------------

type result struct {
	Name    string      `json:"name"`
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Error   string      `json:"error,omitempty"`
	Value   interface{} `json:"value,omitempty"`
}

func outcome(name string, err error, value interface{}) result {
	r := result{Name: name, Value: value}
	if err != nil {
		if st, ok := status.FromError(err); ok {
			r.Code, r.Message = int(st.Code()), st.Message()
		} else {
			r.Error = err.Error()
		}
	}
	return r
}

var (
	serverStream = &ttrpc.StreamDesc{StreamingServer: true}
	clientStream = &ttrpc.StreamDesc{StreamingClient: true}
	bidiStream   = &ttrpc.StreamDesc{StreamingClient: true, StreamingServer: true}
)

// recvStrings reads StringValues until EOF or an error.
func recvStrings(cs ttrpc.ClientStream) ([]string, error) {
	got := []string{}
	for {
		var m wrapperspb.StringValue
		if err := cs.RecvMsg(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return got, nil
			}
			return got, err
		}
		got = append(got, m.Value)
	}
}

func count(ctx context.Context, c *ttrpc.Client, n uint32) ([]string, error) {
	cs, err := c.NewStream(ctx, serverStream, service, "Count", wrapperspb.UInt32(n))
	if err != nil {
		return nil, err
	}
	return recvStrings(cs)
}

func join(ctx context.Context, c *ttrpc.Client, parts []string) (string, error) {
	cs, err := c.NewStream(ctx, clientStream, service, "Join", nil)
	if err != nil {
		return "", err
	}
	for _, p := range parts {
		if err := cs.SendMsg(wrapperspb.String(p)); err != nil {
			return "", err
		}
	}
	if err := cs.CloseSend(); err != nil {
		return "", err
	}
	var out wrapperspb.StringValue
	err = cs.RecvMsg(&out)
	return out.Value, err
}

// upper sends every word, then closes and reads every reply. With
// closeSend false it never closes: Data after the server ended a stream
// makes a Go 1.2.0-1.2.7 server panic.
func upper(ctx context.Context, c *ttrpc.Client, words []string, closeSend bool) ([]string, error) {
	cs, err := c.NewStream(ctx, bidiStream, service, "Upper", nil)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	var got []string
	var rerr error
	go func() {
		got, rerr = recvStrings(cs)
		close(done)
	}()
	for _, w := range words {
		if err := cs.SendMsg(wrapperspb.String(w)); err != nil {
			break
		}
	}
	if closeSend {
		_ = cs.CloseSend()
	}
	<-done
	return got, rerr
}

func runClient(socket, test, arg string) {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		fatalf("dial %s: %v", socket, err)
	}
	c := ttrpc.NewClient(conn)
	defer c.Close()
	ctx := context.Background()
	var out []result
	switch test {
	case "shapes":
		var echo wrapperspb.StringValue
		err := c.Call(ctx, service, "Echo", wrapperspb.String("unary"), &echo)
		out = append(out, outcome("unary", err, echo.Value))
		got, err := count(ctx, c, 4)
		out = append(out, outcome("server", err, got))
		got, err = count(ctx, c, 0)
		out = append(out, outcome("server-empty", err, got))
		joined, err := join(ctx, c, []string{"a", "", "c"})
		out = append(out, outcome("client", err, joined))
		joined, err = join(ctx, c, nil)
		out = append(out, outcome("client-none", err, joined))
		got, err = upper(ctx, c, []string{"x", "yz"}, true)
		out = append(out, outcome("bidi", err, got))
	case "errors":
		got, err := count(ctx, c, 13)
		out = append(out, outcome("server-error", err, got))
		got, err = upper(ctx, c, []string{"ok", "boom"}, false)
		out = append(out, outcome("bidi-error", err, got))
		cs, err := c.NewStream(ctx, bidiStream, service, "Nope", nil)
		if err == nil { // no CloseSend: a Go server would panic on it
			var m wrapperspb.StringValue
			err = cs.RecvMsg(&m)
		}
		out = append(out, outcome("unknown-method", err, nil))
	case "large":
		var sizes []int
		if err := json.Unmarshal([]byte(arg), &sizes); err != nil {
			fatalf("-arg: %v", err)
		}
		words := make([]string, 0, len(sizes))
		for i, n := range sizes {
			words = append(words, strings.Repeat(string(rune('a'+i%26)), n))
		}
		got, err := upper(ctx, c, words, true)
		ok := len(got) == len(words)
		for i := 0; ok && i < len(got); i++ {
			ok = got[i] == strings.ToUpper(words[i])
		}
		out = append(out, outcome("large", err, map[string]interface{}{"count": len(got), "match": ok}))
	case "many":
		var n int
		if err := json.Unmarshal([]byte(arg), &n); err != nil {
			fatalf("-arg: %v", err)
		}
		words := make([]string, n)
		for i := range words {
			words[i] = fmt.Sprint("w", i)
		}
		got, err := upper(ctx, c, words, true)
		ok := len(got) == n
		for i := 0; ok && i < n; i++ {
			ok = got[i] == strings.ToUpper(words[i])
		}
		out = append(out, outcome("many", err, map[string]interface{}{"count": len(got), "match": ok}))
		joined, err := join(ctx, c, words)
		out = append(out, outcome("many-join", err, len(strings.Split(joined, "+"))))
	case "cancel":
		// Cancel a bidi stream mid-way (there is no cancel frame: only this
		// side stops), then check the connection still serves calls. A
		// flooding server stream is not used: Go's client would stall on it.
		cctx, cancel := context.WithCancel(ctx)
		cs, err := c.NewStream(cctx, bidiStream, service, "Upper", nil)
		var first []string
		if err == nil {
			if err = cs.SendMsg(wrapperspb.String("a")); err == nil {
				var m wrapperspb.StringValue
				if err = cs.RecvMsg(&m); err == nil {
					first = append(first, m.Value)
				}
			}
		}
		cancel()
		if err == nil {
			var m wrapperspb.StringValue
			err = cs.RecvMsg(&m)
		}
		out = append(out, outcome("cancelled", err, first))
		var echo wrapperspb.StringValue
		err = c.Call(ctx, service, "Echo", wrapperspb.String("after"), &echo)
		out = append(out, outcome("after-cancel", err, echo.Value))
	case "metadata":
		mctx := ttrpc.WithMetadata(ctx, ttrpc.MD{"b": {"2", "3"}, "a": {"1"}})
		var rep wrapperspb.StringValue
		err := c.Call(mctx, service, "Metadata", &emptypb.Empty{}, &rep)
		out = append(out, outcome("metadata", err, rep.Value))
	default:
		fatalf("unknown test %q", test)
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"results": out})
}

// -- benchmark ----------------------------------------------------------------

// runBench counts messages/s over one stream: echo (bidi round trips with a
// window of in-flight messages), up (client stream), down (server stream).
func runBench(socket, mode string, payload int, duration, warmup float64) {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		fatalf("dial %s: %v", socket, err)
	}
	c := ttrpc.NewClient(conn)
	defer c.Close()
	ctx := context.Background()
	msg := wrapperspb.Bytes(make([]byte, payload))
	total := time.Duration((duration + warmup) * float64(time.Second))
	var n, counted int
	var start time.Time
	began := time.Now()
	tick := func() bool {
		n++
		el := time.Since(began)
		if start.IsZero() && el >= time.Duration(warmup*float64(time.Second)) {
			start, counted = time.Now(), n
		}
		return el < total
	}
	switch mode {
	case "echo":
		cs, err := c.NewStream(ctx, bidiStream, service, "Bytes", nil)
		if err != nil {
			fatalf("stream: %v", err)
		}
		const window = 64
		for i := 0; i < window; i++ {
			if err := cs.SendMsg(msg); err != nil {
				fatalf("send: %v", err)
			}
		}
		for {
			var m wrapperspb.BytesValue
			if err := cs.RecvMsg(&m); err != nil {
				fatalf("recv: %v", err)
			}
			if !tick() {
				break
			}
			if err := cs.SendMsg(msg); err != nil {
				fatalf("send: %v", err)
			}
		}
	case "up":
		cs, err := c.NewStream(ctx, clientStream, service, "Sink", nil)
		if err != nil {
			fatalf("stream: %v", err)
		}
		for tick() {
			if err := cs.SendMsg(msg); err != nil {
				fatalf("send: %v", err)
			}
		}
		_ = cs.CloseSend()
		var got wrapperspb.UInt64Value
		if err := cs.RecvMsg(&got); err != nil {
			fatalf("sink: %v", err)
		}
		if int(got.Value) != n-1 { // the last tick sent nothing
			fatalf("sink counted %d of %d", got.Value, n-1)
		}
	case "down":
		cs, err := c.NewStream(ctx, serverStream, service, "Source", wrapperspb.UInt64(1<<40))
		if err != nil {
			fatalf("stream: %v", err)
		}
		for {
			var m wrapperspb.BytesValue
			if err := cs.RecvMsg(&m); err != nil {
				fatalf("recv: %v", err)
			}
			if !tick() {
				break
			}
		}
	default:
		fatalf("unknown bench mode %q", mode)
	}
	secs := time.Since(start).Seconds()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"calls": n - counted, "errors": 0, "seconds": secs, "calls_per_s": float64(n-counted) / secs,
	})
}
