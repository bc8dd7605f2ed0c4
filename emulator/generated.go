package emulator

import (
	"io"
	"net/http"
	"strconv"
)

// This file produces the bytes of generated attachments (the large demo
// attachment, and those delivered with generatedSize) on demand, so an
// attachment of any size is served without holding it in memory.

// maxGeneratedAttachment bounds generatedSize in the control API (1 GiB).
const maxGeneratedAttachment = 1 << 30

// generatedChunk is the buffer size used to stream a generated attachment.
const generatedChunk = 32 << 10

// GeneratedAttachmentReader returns the bytes of a generated attachment with
// the given seed and size — the same bytes the emulator serves for it — as a
// stream, so tests can checksum a large attachment without holding it. A
// zero seed is treated as 1.
func GeneratedAttachmentReader(seed uint64, size int64) io.Reader {
	if seed == 0 {
		seed = 1
	}
	return &generatedReader{x: seed | 1, left: size}
}

// generatedReader streams generateAttachmentBytes(seed, size): xorshift64*,
// eight little-endian bytes per step.
type generatedReader struct {
	x     uint64
	left  int64
	block [8]byte
	used  int // bytes of block already handed out; 8 = empty
}

func (g *generatedReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	for n < len(p) {
		if g.used == 0 || g.used == 8 {
			g.x ^= g.x >> 12
			g.x ^= g.x << 25
			g.x ^= g.x >> 27
			v := g.x * 2685821657736338717
			for k := 0; k < 8; k++ {
				g.block[k] = byte(v >> (8 * k))
			}
			g.used = 0
		}
		c := copy(p[n:], g.block[g.used:])
		g.used += c
		n += c
	}
	g.left -= int64(n)
	return n, nil
}

// writeGeneratedValue streams a generated attachment's bytes as a $value answer.
func writeGeneratedValue(w http.ResponseWriter, contentType string, seed uint64, size int) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, generatedChunk)
	_, _ = io.CopyBuffer(onlyWriter{w}, GeneratedAttachmentReader(seed, int64(size)), buf)
}

// onlyWriter hides every method but Write, so io.CopyBuffer uses our buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
