// shimaddr prints containerd's shim socket address for each input line,
// computed by containerd 1.6's own shim.SocketAddress: the reference the
// Python implementation is checked against. Input lines are JSON arrays
// [grpc address, namespace, id]; output lines are the address or "error: ...".
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime/v2/shim"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := os.Stdout
	for in.Scan() {
		var args [3]string
		if err := json.Unmarshal(in.Bytes(), &args); err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
			continue
		}
		ctx := namespaces.WithNamespace(context.Background(), args[1])
		addr, err := shim.SocketAddress(ctx, args[0], args[2])
		if err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
			continue
		}
		fmt.Fprintln(out, addr)
	}
}
