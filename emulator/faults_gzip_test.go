package emulator

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultActionGzip(t *testing.T) {
	e := newEnv(t, Options{})
	get := func() (*http.Response, []byte) {
		hr, _ := http.NewRequest(http.MethodGet, e.ts.URL+inboxDelta, nil)
		hr.Header.Set("Authorization", "Bearer demo")
		hr.Header.Set("Accept-Encoding", "identity")
		res, err := e.ts.Client().Do(hr)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, b
	}
	plain, plainBody := get()
	require.Equal(t, 200, plain.StatusCode)
	assert.Empty(t, plain.Header.Get("Content-Encoding"))

	e.addFault(`{"action":"gzip"}`)
	res, body := get()
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "gzip", res.Header.Get("Content-Encoding"), "compressed although identity was asked for")
	assert.Equal(t, plain.Header.Get("Content-Type"), res.Header.Get("Content-Type"))
	zr, err := gzip.NewReader(bytes.NewReader(body))
	require.NoError(t, err)
	decoded, err := io.ReadAll(zr)
	require.NoError(t, err)
	// Both are the first page of the same delta round.
	assert.Equal(t, bytes.Count(plainBody, []byte(`"subject"`)), bytes.Count(decoded, []byte(`"subject"`)))
	assert.Contains(t, string(decoded), `"@odata.context"`)
}
