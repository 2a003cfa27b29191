// Command discover measures discovery's memory as its input grows: it
// streams OTLP JSON traces it generates on the fly (one TracesData per
// line, as the collector's file exporter writes them: 200 executions of a
// realistic 20-leaf journey each) through `emac discover`'s service, and
// reports each size's time, rate and peak resident memory, each size in a
// process of its own. Flat memory means the peaks stay level while the
// input grows.
//
//	go run ./bench/discover                 # 256 MB, 512 MB and 1 GB
//	go run ./bench/discover -sizes 64,2048
//	go run ./bench/discover -interval 1s    # the same volume over 100× the time
//
// What discovery keeps grows with the time the input covers (a histogram
// per service and minute, for degraded windows and co-failure), not with
// its volume.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/internal/discovery/input"
	"github.com/emac-dev/emac/internal/gen"
	"github.com/emac-dev/emac/internal/service"
	"github.com/emac-dev/emac/internal/sim/trace"
)

func main() {
	sizes := flag.String("sizes", "256,512,1024", "input sizes to run, in MB")
	one := flag.Int("one", 0, "run one size (MB) in this process and print its figures")
	every := flag.Duration("interval", 10*time.Millisecond, "time between the traced executions' starts: the input covers size/bytes-per-trace × interval")
	flag.Parse()
	if *one > 0 {
		if err := run(int64(*one)<<20, *every); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	fmt.Printf("executions %v apart\n%8s %10s %9s %10s %12s %8s %9s\n", *every, "MB", "spans", "seconds", "MB/s", "peak RSS MB", "flows", "span (h)")
	for _, s := range strings.Split(*sizes, ",") {
		cmd := exec.Command(os.Args[0], "-one", strings.TrimSpace(s), "-interval", every.String())
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "size", s, err)
			os.Exit(1)
		}
		fmt.Print(string(out))
	}
}

// run discovers size bytes of generated traces, executions every apart,
// and prints a line.
func run(size int64, every time.Duration) error {
	j := gen.Realistic(7, 20, 4)
	r, w := io.Pipe()
	var written int64
	go func() {
		bw := bufio.NewWriterSize(w, 1<<20)
		for seed := uint64(1); written < size; seed++ {
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seed) * 200 * every)
			td, err := trace.Generate(context.Background(), j, trace.Options{Count: 200, Seed: seed, Start: start, Interval: every})
			if err != nil {
				w.CloseWithError(err)
				return
			}
			b, err := td.JSON()
			if err != nil {
				w.CloseWithError(err)
				return
			}
			b = append(bytes.TrimRight(b, "\n"), '\n')
			if _, err := bw.Write(b); err != nil {
				return
			}
			written += int64(len(b))
		}
		w.CloseWithError(bw.Flush())
	}()
	start := time.Now()
	d, err := service.Discover(context.Background(), []string{"-"}, service.DiscoverOptions{Input: input.Options{Stdin: r}})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	spans := 0
	for _, in := range d.Model.Inputs {
		spans += in.Spans
	}
	hours := 0.0
	if w := d.Model.Window; w != nil {
		from, _ := time.Parse(time.RFC3339Nano, w.From)
		to, _ := time.Parse(time.RFC3339Nano, w.To)
		hours = to.Sub(from).Hours()
	}
	fmt.Printf("%8d %10d %9.1f %10.1f %12.1f %8d %9.1f\n", written>>20, spans, secs, float64(written)/(1<<20)/secs, peakRSS(), len(d.Model.Flows), hours)
	return nil
}

// peakRSS is the process's peak resident set in MB (VmHWM).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
