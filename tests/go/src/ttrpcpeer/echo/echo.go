// Package echo is the test service both peers (Go and Python) implement, so
// the interop tests can drive either side with the same calls.
//
// Messages are gogo well-known types, so no code generation is needed:
//
//	Echo      BytesValue  -> BytesValue   (same bytes back)
//	Fail      StringValue "CODE:message" -> status error with that code and message
//	Sleep     Duration    -> StringValue JSON report; returns ctx.Err() when the deadline passes first
//	Hang      Duration    -> StringValue JSON report; ignores the deadline (sleeps the full time)
//	Hold      StringValue KEY -> the same KEY once Release(KEY) was called (before or after); ignores the deadline
//	Release   StringValue KEY -> Empty; lets every Hold(KEY) answer
//	Metadata  Empty       -> StringValue JSON of the received metadata (map key -> values)
//	Big       UInt64Value -> BytesValue of that many bytes
//	FailBig   UInt64Value -> Internal status error whose message is that many 'x's
package echo

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Service is the full service name used on the wire.
const Service = "ttrpcpeer.Echo"

// SleepReport is what Sleep and Hang return (as JSON in a StringValue).
type SleepReport struct {
	HadDeadline bool    `json:"had_deadline"`
	DeadlineMS  float64 `json:"deadline_ms"` // remaining at handler start
	SleptMS     float64 `json:"slept_ms"`
	CtxErr      string  `json:"ctx_err"`
}

// holds are the gates of Hold calls by key: a reply the peer keeps back
// until the test says so, instead of for a time a loaded machine can outrun.
type holds struct {
	mu    sync.Mutex
	gates map[string]chan struct{}
}

func (h *holds) gate(key string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	g, ok := h.gates[key]
	if !ok {
		g = make(chan struct{})
		h.gates[key] = g
	}
	return g
}

func (h *holds) release(key string) {
	g := h.gate(key)
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-g:
	default:
		close(g)
	}
}

// Methods returns the method table. trace, if non-nil, receives event lines
// (e.g. "sleep-start", "hold-start KEY", "hold-end KEY") so a test can wait
// for a call to be in flight or its reply to be on its way.
func Methods(trace func(string)) map[string]ttrpc.Method {
	if trace == nil {
		trace = func(string) {}
	}
	held := &holds{gates: map[string]chan struct{}{}}
	sleep := func(honour bool) ttrpc.Method {
		return func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var d types.Duration
			if err := unmarshal(&d); err != nil {
				return nil, err
			}
			dur, err := types.DurationFromProto(&d)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "bad duration: %v", err)
			}
			start := time.Now()
			rep := SleepReport{}
			if dl, ok := ctx.Deadline(); ok {
				rep.HadDeadline = true
				rep.DeadlineMS = float64(dl.Sub(start)) / float64(time.Millisecond)
			}
			trace("sleep-start")
			timer := time.NewTimer(dur)
			defer timer.Stop()
			if honour {
				select {
				case <-timer.C:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			} else {
				<-timer.C
			}
			rep.SleptMS = float64(time.Since(start)) / float64(time.Millisecond)
			if err := ctx.Err(); err != nil {
				rep.CtxErr = err.Error()
			}
			b, _ := json.Marshal(rep)
			return &types.StringValue{Value: string(b)}, nil
		}
	}
	return map[string]ttrpc.Method{
		"Echo": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var in types.BytesValue
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			return &in, nil
		},
		"Fail": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var in types.StringValue
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			parts := strings.SplitN(in.Value, ":", 2)
			code, err := strconv.Atoi(parts[0])
			if err != nil || len(parts) != 2 {
				return nil, status.Errorf(codes.InvalidArgument, "Fail wants CODE:message, got %q", in.Value)
			}
			return nil, status.New(codes.Code(code), parts[1]).Err()
		},
		"Sleep": sleep(true),
		"Hang":  sleep(false),
		"Hold": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var in types.StringValue
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			trace("hold-start " + in.Value)
			<-held.gate(in.Value)
			trace("hold-end " + in.Value)
			return &in, nil
		},
		"Release": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var in types.StringValue
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			held.release(in.Value)
			return &types.Empty{}, nil
		},
		"Metadata": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var in types.Empty
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			md, ok := ttrpc.GetMetadata(ctx)
			if !ok {
				md = ttrpc.MD{}
			}
			b, err := json.Marshal(md)
			if err != nil {
				return nil, fmt.Errorf("metadata json: %w", err)
			}
			return &types.StringValue{Value: string(b)}, nil
		},
		"FailBig": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var in types.UInt64Value
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			if in.Value > 64<<20 {
				return nil, status.Errorf(codes.InvalidArgument, "FailBig: %d bytes is too many", in.Value)
			}
			return nil, status.New(codes.Internal, strings.Repeat("x", int(in.Value))).Err()
		},
		"Big": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var in types.UInt64Value
			if err := unmarshal(&in); err != nil {
				return nil, err
			}
			if in.Value > 64<<20 {
				return nil, status.Errorf(codes.InvalidArgument, "Big: %d bytes is too many", in.Value)
			}
			return &types.BytesValue{Value: make([]byte, in.Value)}, nil
		},
	}
}
