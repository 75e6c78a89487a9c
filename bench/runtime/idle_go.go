// idle_go: resident memory per idle goroutine (the Go peer of idle_capri
// and idle_pthread; optional: bench/memory/run.sh runs it when a go
// toolchain is installed).
//
// N goroutines (default 10,000), each blocked at the same depth as
// idle_pthread's threads: level3 fills a 1 KiB array in its frame, counts
// itself, blocks receiving from a shared unbuffered channel (the
// semaphore) and checks the array after waking. GOMAXPROCS comes from the
// environment. VmRSS, VmPTE and smaps_rollup Rss of the process before
// and after, over N, are one goroutine's cost (its stack, which Go grows
// by copying, and its g). A warm-up goroutine runs first; the garbage
// collector runs before each sample.
//
// Checks: N goroutines blocked before the sample; after N sends each finds
// its 1 KiB intact.
//
// Output (bytes per goroutine): "idle.go_rss", "idle.go_pte",
// "idle.go_total", "idle.go_rollup", "idle.go_spawn_ns".
// Usage: idle_go [N]
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	sem     = make(chan struct{})
	blocked int64
	bad     int64
	done    sync.WaitGroup
)

//go:noinline
func level3(seed int) {
	var buf [1024]byte
	for i := range buf {
		buf[i] = byte(seed + i)
	}
	atomic.AddInt64(&blocked, 1)
	<-sem
	for i := range buf {
		if buf[i] != byte(seed+i) {
			atomic.AddInt64(&bad, 1)
		}
	}
}

//go:noinline
func level2(seed int) { level3(seed + 1) }

//go:noinline
func level1(seed int) { level2(seed + 1); done.Done() }

// procKB returns the "key:   N kB" field of a /proc file, in bytes.
func procKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, key+":") {
			fields := strings.Fields(line[len(key)+1:])
			v, _ := strconv.ParseInt(fields[0], 10, 64)
			return v * 1024
		}
	}
	return -1
}

type sample struct{ rss, pte, rollup int64 }

func take() sample {
	runtime.GC()
	return sample{procKB("/proc/self/status", "VmRSS"), procKB("/proc/self/status", "VmPTE"),
		procKB("/proc/self/smaps_rollup", "Rss")}
}

func waitBlocked(n int64) {
	for atomic.LoadInt64(&blocked) < n {
		time.Sleep(time.Millisecond)
	}
}

func main() {
	n := 10000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	done.Add(1)
	go level1(1)
	waitBlocked(1)
	sem <- struct{}{}
	done.Wait()
	atomic.StoreInt64(&blocked, 0)

	before := take()
	t0 := time.Now()
	done.Add(n)
	for i := 0; i < n; i++ {
		go level1(i)
	}
	waitBlocked(int64(n))
	spawn := time.Since(t0)
	time.Sleep(10 * time.Millisecond) // the last ones reach the receive
	after := take()
	for i := 0; i < n; i++ {
		sem <- struct{}{}
	}
	done.Wait()
	if bad != 0 {
		fmt.Fprintf(os.Stderr, "bench check failed: %d bytes changed on blocked stacks\n", bad)
		os.Exit(1)
	}
	per := func(a, b int64) float64 { return float64(a-b) / float64(n) }
	rss, pte := per(after.rss, before.rss), per(after.pte, before.pte)
	fmt.Printf("idle.go_rss %.2f\n", rss)
	fmt.Printf("idle.go_pte %.2f\n", pte)
	fmt.Printf("idle.go_total %.2f\n", rss+pte)
	fmt.Printf("idle.go_rollup %.2f\n", per(after.rollup, before.rollup))
	fmt.Printf("idle.go_spawn_ns %.2f\n", float64(spawn.Nanoseconds())/float64(n))
}
