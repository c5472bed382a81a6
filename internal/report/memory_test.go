package report

import (
	"bufio"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heapSampler discards what is written to it and, every so many bytes, measures the live heap (after a
// collection): a reporter that held its output, or any other growing structure, shows in the peak.
type heapSampler struct {
	written, next, every int64
	peak                 uint64
}

func (h *heapSampler) Write(p []byte) (int, error) {
	h.written += int64(len(p))
	if h.written >= h.next {
		h.sample()
		h.next = h.written + h.every
	}
	return len(p), nil
}

func (h *heapSampler) sample() {
	h.peak = max(h.peak, liveHeap())
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// streamedFormats are the formats written without their whole output in memory.
var streamedFormats = []string{"json", "csv", "junit", "sarif"}

// measureWrite writes r in the format as WriteFiles does (through a 64 KiB buffer) and returns the bytes
// written and the peak growth of the live heap above the model while writing.
func measureWrite(t testing.TB, format string, r *Report, every int64) (written int64, growth uint64) {
	f, err := Lookup(format)
	require.NoError(t, err)
	h := &heapSampler{every: every}
	base := liveHeap()
	bw := bufio.NewWriterSize(h, 64<<10)
	require.NoError(t, f.New(Options{}).Write(bw, r))
	require.NoError(t, bw.Flush())
	h.sample()
	runtime.KeepAlive(r)
	if h.peak < base {
		return h.written, 0
	}
	return h.written, h.peak - base
}

// Writing a report holds the model and little else: the live heap grows by a small fraction of the output.
// Not parallel: the heap is the process's, and other tests' allocations would show in it.
func TestWritingAReportHoldsOnlyTheModel(t *testing.T) {
	r := largeReport(600, 10)
	for _, format := range streamedFormats {
		t.Run(format, func(t *testing.T) {
			written, growth := measureWrite(t, format, r, 512<<10)
			t.Logf("%s: %.1f MB written, heap grew by %.2f MB", format, float64(written)/1e6, float64(growth)/1e6)
			assert.Greater(t, written, int64(1<<20), "a report large enough to tell")
			assert.Less(t, growth, uint64(written/8), "the live heap grew by more than an eighth of the output")
		})
	}
}

// BenchmarkWriteReport writes a fleet's report (10,000 environments × 15 rules over 100 tenants) in each
// streamed format, and reports the output's size and the live heap's peak growth above the model while
// writing it.
//
//	go test ./internal/report -run '^$' -bench BenchmarkWriteReport -benchtime 1x
func BenchmarkWriteReport(b *testing.B) {
	r := largeReport(10000, 100)
	model := liveHeap()
	for _, format := range streamedFormats {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			var written int64
			var growth uint64
			for b.Loop() {
				w, g := measureWrite(b, format, r, 16<<20)
				written, growth = w, max(growth, g)
			}
			b.ReportMetric(float64(written)/1e6, "MB-written")
			b.ReportMetric(float64(growth)/1e6, "MB-heap-growth")
			b.ReportMetric(float64(model)/1e6, "MB-model")
		})
	}
}
