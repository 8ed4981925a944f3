// Command peer is the Go ttrpc 1.1.1 reference peer for shimtypes' interop
// tests and benchmark.
//
//	peer server -socket PATH [-require-same-user] [-trace]
//	peer bench-server -socket PATH            (same as server)
//	peer client -socket PATH -test NAME [-arg JSON]
//	peer bench-client -socket PATH -concurrency N -payload BYTES -duration S [-warmup S]
//
// The server prints "ready" once listening; with -trace it also prints
// "sleep-start" when a Sleep/Hang handler starts, so tests can wait for a call
// to be in flight. SIGTERM runs Server.Shutdown (finish in-flight calls),
// SIGINT runs Server.Close. Client modes print one JSON object on stdout.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/status"

	"ttrpcpeer/echo"
)

const maxMessage = 4 << 20

var stdoutMu sync.Mutex

func say(line string) {
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	fmt.Fprintln(os.Stdout, line)
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "peer: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: peer server|bench-server|client|bench-client [flags]")
	}
	mode, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path (or @abstract)")
	sameUser := fs.Bool("require-same-user", false, "server: UnixSocketRequireSameUser handshaker")
	trace := fs.Bool("trace", false, "server: print handler events on stdout")
	test := fs.String("test", "", "client: scenario name")
	arg := fs.String("arg", "", "client: scenario argument (JSON)")
	conc := fs.Int("concurrency", 1, "bench-client: concurrent callers")
	payload := fs.Int("payload", 0, "bench-client: payload bytes")
	duration := fs.Float64("duration", 2, "bench-client: seconds to measure")
	warmup := fs.Float64("warmup", 0.3, "bench-client: seconds to warm up first")
	_ = fs.Parse(args)
	if *socket == "" {
		fatalf("-socket is required")
	}
	switch mode {
	case "server", "bench-server":
		runServer(*socket, *sameUser, *trace)
	case "client":
		runClient(*socket, *test, *arg)
	case "bench-client":
		runBench(*socket, *conc, *payload, *duration, *warmup)
	default:
		fatalf("unknown mode %q", mode)
	}
}

func runServer(socket string, sameUser, trace bool) {
	var opts []ttrpc.ServerOpt
	if sameUser {
		opts = append(opts, ttrpc.WithServerHandshaker(ttrpc.UnixSocketRequireSameUser()))
	}
	srv, err := ttrpc.NewServer(opts...)
	if err != nil {
		fatalf("new server: %v", err)
	}
	var tracer func(string)
	if trace {
		tracer = say
	}
	srv.Register(echo.Service, echo.Methods(tracer))
	l, err := net.Listen("unix", socket)
	if err != nil {
		fatalf("listen %s: %v", socket, err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()
	say("ready")
	select {
	case sig := <-sigs:
		if sig == syscall.SIGTERM {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = srv.Shutdown(ctx)
			cancel()
		} else {
			err = srv.Close()
		}
		if err != nil {
			fatalf("shutdown: %v", err)
		}
		say("shutdown-done")
	case err := <-served:
		fatalf("serve: %v", err)
	}
}

func dial(socket string, opts ...ttrpc.ClientOpts) *ttrpc.Client {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		fatalf("dial %s: %v", socket, err)
	}
	return ttrpc.NewClient(conn, opts...)
}

// Result is one call's outcome as the Python tests read it.
type Result struct {
	Name      string      `json:"name"`
	Code      int         `json:"code"`            // status code; 0 on success or non-status error
	Message   string      `json:"message"`         // status message
	Error     string      `json:"error,omitempty"` // non-status error text (e.g. "ttrpc: closed")
	ElapsedMS float64     `json:"elapsed_ms"`
	Value     interface{} `json:"value,omitempty"`
}

func outcome(name string, start time.Time, err error, value interface{}) Result {
	r := Result{Name: name, ElapsedMS: float64(time.Since(start)) / float64(time.Millisecond)}
	if err != nil {
		if st, ok := status.FromError(err); ok {
			r.Code, r.Message = int(st.Code()), st.Message()
		} else {
			r.Error = err.Error()
		}
		return r
	}
	r.Value = value
	return r
}

func pattern(n int, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i + seed) % 251)
	}
	return b
}

func echoCall(ctx context.Context, c *ttrpc.Client, name string, p []byte) Result {
	start := time.Now()
	var out types.BytesValue
	err := c.Call(ctx, echo.Service, "Echo", &types.BytesValue{Value: p}, &out)
	return outcome(name, start, err, map[string]interface{}{"len": len(out.Value), "match": bytes.Equal(out.Value, p)})
}

func sleepCall(ctx context.Context, c *ttrpc.Client, name, method string, ms float64) Result {
	start := time.Now()
	var out types.StringValue
	err := c.Call(ctx, echo.Service, method, types.DurationProto(time.Duration(ms*float64(time.Millisecond))), &out)
	var rep interface{}
	if err == nil {
		var m map[string]interface{}
		if jerr := json.Unmarshal([]byte(out.Value), &m); jerr != nil {
			rep = out.Value
		} else {
			rep = m
		}
	}
	return outcome(name, start, err, rep)
}

func varintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

func field(n int) int { return 1 + varintLen(n) + n } // tag + length + bytes

// echoPayloadForRequestFrame returns the Echo payload size whose Request frame is exactly total bytes.
func echoPayloadForRequestFrame(total int) int {
	for n := total; n > 0; n-- {
		if field(len(echo.Service))+field(len("Echo"))+field(field(n)) == total {
			return n
		}
	}
	return -1
}

// bigSizeForResponseFrame returns the Big size whose (status-less) Response frame is exactly total bytes.
func bigSizeForResponseFrame(total int) int {
	for n := total; n > 0; n-- {
		if field(field(n)) == total {
			return n
		}
	}
	return -1
}

func runClient(socket, test, arg string) {
	closed := make(chan struct{})
	var wire *int64 // when set, overrides timeout_nano of Sleep/Hang requests on the wire
	c := dial(socket, ttrpc.WithOnClose(func() { close(closed) }),
		ttrpc.WithUnaryClientInterceptor(func(ctx context.Context, req *ttrpc.Request, resp *ttrpc.Response, _ *ttrpc.UnaryClientInfo, invoke ttrpc.Invoker) error {
			if wire != nil && (req.Method == "Sleep" || req.Method == "Hang") {
				req.TimeoutNano = *wire
			}
			return invoke(ctx, req, resp)
		}))
	ctx := context.Background()
	var results []Result
	extra := map[string]interface{}{}
	switch test {
	case "echo":
		sizes := []int{0, 1, 100, 4096, 1 << 20}
		if arg != "" {
			mustJSON(arg, &sizes)
		}
		for i, n := range sizes {
			results = append(results, echoCall(ctx, c, fmt.Sprintf("echo-%d", n), pattern(n, i)))
		}
	case "fail":
		var specs []string
		mustJSON(arg, &specs)
		for _, s := range specs {
			start := time.Now()
			var out types.Empty
			err := c.Call(ctx, echo.Service, "Fail", &types.StringValue{Value: s}, &out)
			results = append(results, outcome(s, start, err, nil))
		}
	case "metadata":
		md := ttrpc.MD{}
		mustJSON(arg, &md) // keys sent verbatim (no lower-casing), values in order
		start := time.Now()
		var out types.StringValue
		err := c.Call(ttrpc.WithMetadata(ctx, md), echo.Service, "Metadata", &types.Empty{}, &out)
		var got map[string][]string
		if err == nil {
			mustJSON(out.Value, &got)
		}
		results = append(results, outcome("metadata", start, err, got))
	case "sleep":
		// {"method": "Sleep"|"Hang", "sleep_ms": N, "ctx_timeout_ms": N (0 = none),
		//  "wire_timeout_ms": N (optional: overrides timeout_nano on the wire, may be <= 0)}
		var a struct {
			Method        string   `json:"method"`
			SleepMS       float64  `json:"sleep_ms"`
			CtxTimeoutMS  float64  `json:"ctx_timeout_ms"`
			WireTimeoutMS *float64 `json:"wire_timeout_ms"`
		}
		a.Method = "Sleep"
		mustJSON(arg, &a)
		if a.WireTimeoutMS != nil {
			w := int64(*a.WireTimeoutMS * float64(time.Millisecond))
			wire = &w
		}
		cctx := ctx
		if a.CtxTimeoutMS > 0 {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(ctx, time.Duration(a.CtxTimeoutMS*float64(time.Millisecond)))
			defer cancel()
		}
		results = append(results, sleepCall(cctx, c, a.Method, a.Method, a.SleepMS))
		results = append(results, echoCall(ctx, c, "echo-after", pattern(10, 3)))
	case "unknown":
		start := time.Now()
		var out types.BytesValue
		err := c.Call(ctx, "nope.Svc", "Echo", &types.BytesValue{}, &out)
		results = append(results, outcome("service", start, err, nil))
		start = time.Now()
		err = c.Call(ctx, echo.Service, "Nope", &types.BytesValue{}, &out)
		results = append(results, outcome("method", start, err, nil))
		results = append(results, echoCall(ctx, c, "echo-after", pattern(10, 3)))
	case "oversize":
		over := echoPayloadForRequestFrame(maxMessage + 1)
		exact := echoPayloadForRequestFrame(maxMessage)
		bigExact := bigSizeForResponseFrame(maxMessage)
		bigOver := bigSizeForResponseFrame(maxMessage + 1)
		extra["echo_over_payload"], extra["echo_exact_payload"] = over, exact
		extra["big_exact_size"], extra["big_over_size"] = bigExact, bigOver
		results = append(results, echoCall(ctx, c, "echo-over", pattern(over, 1)))
		results = append(results, echoCall(ctx, c, "echo-small", pattern(10, 2)))
		results = append(results, echoCall(ctx, c, "echo-exact", pattern(exact, 3)))
		for _, b := range []struct {
			name string
			size int
		}{{"big-exact", bigExact}, {"big-over", bigOver}} {
			start := time.Now()
			var out types.BytesValue
			err := c.Call(ctx, echo.Service, "Big", &types.UInt64Value{Value: uint64(b.size)}, &out)
			results = append(results, outcome(b.name, start, err, map[string]int{"len": len(out.Value)}))
		}
		results = append(results, echoCall(ctx, c, "echo-after", pattern(10, 4)))
	case "failbig":
		// An error whose message alone exceeds 4 MiB: a 1.1.1 client would
		// panic on the oversized frame, so the server must shrink it.
		start := time.Now()
		var out types.Empty
		err := c.Call(ctx, echo.Service, "FailBig", &types.UInt64Value{Value: 5 << 20}, &out)
		r := outcome("failbig", start, err, nil)
		extra["message_len"] = len(r.Message)
		if len(r.Message) > 64 {
			r.Message = r.Message[:64]
		}
		results = append(results, r)
		results = append(results, echoCall(ctx, c, "echo-after", pattern(10, 4)))
	case "concurrent":
		n := 100
		if arg != "" {
			mustJSON(arg, &n)
		}
		var wg sync.WaitGroup
		res := make([]Result, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res[i] = echoCall(ctx, c, fmt.Sprintf("echo-%d", i), pattern(i*37, i))
			}(i)
		}
		wg.Wait()
		results = res
		// Out-of-order completion: longer sleeps issued first must finish last.
		var mu sync.Mutex
		var order []int
		for _, ms := range []int{400, 300, 200, 100, 0} {
			wg.Add(1)
			go func(ms int) {
				defer wg.Done()
				r := sleepCall(ctx, c, "sleep", "Sleep", float64(ms))
				mu.Lock()
				if r.Code == 0 && r.Error == "" {
					order = append(order, ms)
				}
				mu.Unlock()
			}(ms)
			// Stagger so the longest tends to go out first: the Python test
			// asserts arrival order differs from completion order, which this
			// delay makes near-certain (completion order itself does not
			// depend on it).
			time.Sleep(5 * time.Millisecond)
		}
		wg.Wait()
		extra["sleep_completion_order"] = order
	default:
		fatalf("unknown -test %q", test)
	}
	c.Close()
	select {
	case <-closed:
		extra["on_close_ran"] = true
	case <-time.After(2 * time.Second):
		extra["on_close_ran"] = false
	}
	out, _ := json.Marshal(map[string]interface{}{"test": test, "results": results, "extra": extra})
	say(string(out))
}

func mustJSON(s string, v interface{}) {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		fatalf("bad -arg %q: %v", s, err)
	}
}

func runBench(socket string, conc, payload int, duration, warmup float64) {
	c := dial(socket)
	defer c.Close()
	p := pattern(payload, 0)
	var calls, errs int64
	var counting int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &types.BytesValue{Value: p}
			for {
				select {
				case <-stop:
					return
				default:
				}
				var out types.BytesValue
				err := c.Call(context.Background(), echo.Service, "Echo", req, &out)
				if atomic.LoadInt32(&counting) == 1 {
					if err != nil || len(out.Value) != payload {
						atomic.AddInt64(&errs, 1)
					} else {
						atomic.AddInt64(&calls, 1)
					}
				}
			}
		}()
	}
	time.Sleep(time.Duration(warmup * float64(time.Second)))
	atomic.StoreInt32(&counting, 1)
	start := time.Now()
	time.Sleep(time.Duration(duration * float64(time.Second)))
	atomic.StoreInt32(&counting, 0)
	secs := time.Since(start).Seconds()
	n := atomic.LoadInt64(&calls)
	close(stop)
	wg.Wait()
	out, _ := json.Marshal(map[string]interface{}{
		"calls": n, "errors": atomic.LoadInt64(&errs), "seconds": secs, "calls_per_s": float64(n) / secs,
	})
	say(string(out))
}
