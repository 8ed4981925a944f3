// Command grpcbench drives a gRPC server's unary bytes echo method over a unix
// socket with the same load shape as `peer bench-client`, so bench/ttrpc.py
// can compare a grpcio server with the ttrpc servers under one Go client.
//
//	grpcbench -socket PATH -method /bench.Echo/Echo -concurrency N -payload BYTES -duration S
//	grpcbench -serve -socket PATH      (echo server for any method; prints "ready")
//
// Requests are BytesValue messages sent through a raw bytes codec; the server
// decodes and re-encodes them, as the ttrpc echo handlers do.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc"
)

type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string   { return "proto" } // content-type stays application/grpc+proto
func (rawCodec) String() string { return "proto" }

func serve(socket string) {
	l, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpcbench: listen: %v\n", err)
		os.Exit(2)
	}
	srv := grpc.NewServer(grpc.CustomCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ interface{}, stream grpc.ServerStream) error {
		var in []byte
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		var msg types.BytesValue
		if err := msg.Unmarshal(in); err != nil {
			return err
		}
		out, err := msg.Marshal()
		if err != nil {
			return err
		}
		return stream.SendMsg(&out)
	}))
	fmt.Println("ready")
	if err := srv.Serve(l); err != nil {
		fmt.Fprintf(os.Stderr, "grpcbench: serve: %v\n", err)
		os.Exit(2)
	}
}

func main() {
	socket := flag.String("socket", "", "unix socket path")
	method := flag.String("method", "/bench.Echo/Echo", "full method name")
	conc := flag.Int("concurrency", 1, "concurrent callers")
	payload := flag.Int("payload", 0, "payload bytes (wrapped in a BytesValue)")
	duration := flag.Float64("duration", 2, "seconds to measure")
	warmup := flag.Float64("warmup", 0.3, "seconds to warm up first")
	serveMode := flag.Bool("serve", false, "run the echo server instead")
	flag.Parse()
	if *serveMode {
		serve(*socket)
		return
	}
	conn, err := grpc.Dial("unix://"+*socket, grpc.WithInsecure(), grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", *socket)
		}))
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpcbench: dial: %v\n", err)
		os.Exit(2)
	}
	defer conn.Close()
	p := make([]byte, *payload)
	req, _ := (&types.BytesValue{Value: p}).Marshal()
	var calls, errs int64
	var counting int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var out []byte
				err := conn.Invoke(context.Background(), *method, &req, &out)
				if err != nil {
					firstErr.Store(err.Error())
				}
				if atomic.LoadInt32(&counting) == 1 {
					if err != nil || len(out) != len(req) {
						atomic.AddInt64(&errs, 1)
					} else {
						atomic.AddInt64(&calls, 1)
					}
				}
			}
		}()
	}
	time.Sleep(time.Duration(*warmup * float64(time.Second)))
	atomic.StoreInt32(&counting, 1)
	start := time.Now()
	time.Sleep(time.Duration(*duration * float64(time.Second)))
	atomic.StoreInt32(&counting, 0)
	secs := time.Since(start).Seconds()
	n := atomic.LoadInt64(&calls)
	close(stop)
	wg.Wait()
	out := map[string]interface{}{"calls": n, "errors": atomic.LoadInt64(&errs), "seconds": secs, "calls_per_s": float64(n) / secs}
	if e := firstErr.Load(); e != nil {
		out["first_error"] = e
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
