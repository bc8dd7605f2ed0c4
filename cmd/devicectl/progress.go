package main

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/devicebridge/caddy-devicebridge/cmd/devicectl/mirror"
)

// progress shows bars when stderr is a terminal and plain lines when not
// (a log file or CI must not fill with carriage-return frames).
type progress struct {
	w    io.Writer
	tty  bool
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*mpb.Bar
}

func newProgress(ctx context.Context, w io.Writer) *progress {
	pr := &progress{w: w, bars: map[string]*mpb.Bar{}}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pr.tty = true
		pr.p = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40))
	}
	return pr
}

// page reports one applied sync page: a bar per scope on a terminal, a
// line per page otherwise.
func (pr *progress) page(p mirror.Progress) {
	if !pr.tty {
		more := ""
		if p.More {
			more = " …"
		}
		name := p.Scope
		if strings.HasPrefix(p.Scope, "mail:") && p.Name != "" {
			name = "mail " + p.Name
		}
		io.WriteString(pr.w, name+": "+strconv.Itoa(p.Changes)+" changes"+more+"\n")
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	bar, ok := pr.bars[p.Scope]
	if !ok {
		name := p.Name
		if name == "" {
			name = p.Scope
		}
		bar = pr.p.AddBar(int64(max(p.Total, 1)),
			mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace, W: 16})),
			mpb.AppendDecorators(decor.CurrentNoUnit("%d changes")))
		pr.bars[p.Scope] = bar
	}
	bar.SetTotal(max(bar.Current()+int64(p.Changes)+1, int64(p.Total)), false)
	bar.IncrBy(p.Changes)
	if !p.More {
		bar.SetTotal(-1, true)
	}
}

// copy copies src to dst with a byte bar of total size (-1 unknown).
func (pr *progress) copy(dst io.Writer, src io.Reader, name string, size int64) (int64, error) {
	if !pr.tty {
		return io.Copy(dst, src)
	}
	bar := pr.p.AddBar(size,
		mpb.PrependDecorators(decor.Name(name+" ")),
		mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f"), decor.Percentage(decor.WCSyncSpace)))
	proxy, err := bar.ProxyReader(src)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(dst, proxy)
	if err != nil {
		bar.Abort(false)
	} else {
		bar.SetTotal(-1, true)
	}
	return n, err
}

func (pr *progress) wait() {
	if pr.p != nil {
		pr.mu.Lock()
		for _, b := range pr.bars {
			if !b.Completed() {
				b.SetTotal(-1, true)
			}
		}
		pr.mu.Unlock()
		pr.p.Wait()
	}
}
