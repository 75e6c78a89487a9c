// chan_go: unbuffered-channel ping-pong between two goroutines (Go peer of
// chan_capri; optional: run.sh runs it when a go toolchain is installed).
//
// ping sends i on the first channel and receives i + 1 on the second;
// ns per message = elapsed / (2 * rounds). GOMAXPROCS comes from the
// environment (run.sh: 1 and 2). Checks every reply.
//
// Output: "chan.go_<GOMAXPROCS>proc <ns per message>".
// Usage: chan_go [ROUNDS]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func main() {
	rounds := 1000000
	if len(os.Args) > 1 {
		rounds, _ = strconv.Atoi(os.Args[1])
	}
	c1 := make(chan int)
	c2 := make(chan int)
	go func() {
		for v := range c1 {
			c2 <- v + 1
		}
	}()
	t0 := time.Now()
	for i := 0; i < rounds; i++ {
		c1 <- i
		if v := <-c2; v != i+1 {
			fmt.Fprintf(os.Stderr, "bench check failed: got %d for %d\n", v, i)
			os.Exit(1)
		}
	}
	el := time.Since(t0)
	close(c1)
	fmt.Printf("chan.go_%dproc %.2f\n", runtime.GOMAXPROCS(0), float64(el.Nanoseconds())/(2*float64(rounds)))
}
