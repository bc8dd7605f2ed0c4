// Command syncbytes measures what a full Inbox sync costs on the wire:
// the bytes Graph sends for the raw delta pages (through a plain
// reverse_proxy) versus the bytes devicebridge sends the device for the
// same sync with the same fields, each uncompressed and gzip-compressed.
//
// It is part of the load harness (bench/run.sh), which starts the servers.
//
//	syncbytes -proxy https://localhost:9542 -bridge https://localhost:9541 -root root.crt
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/tidwall/gjson"
)

// graphSelect is the $select devicebridge sends for mail.sync's default
// fields, so both sides carry the same information.
const graphSelect = "id,parentFolderId,conversationId,subject,from,toRecipients,ccRecipients," +
	"receivedDateTime,sentDateTime,bodyPreview,isRead,flag,importance,hasAttachments,categories,isDraft"

func main() {
	proxy := flag.String("proxy", "", "base URL of the plain reverse_proxy site")
	bridge := flag.String("bridge", "", "base URL of the devicebridge site")
	rootFile := flag.String("root", "", "PEM root certificate the sites are signed with")
	token := flag.String("token", "demo", "bearer token of the mailbox")
	window := flag.Int("window", 50, "page size")
	flag.Parse()

	client, err := newClient(*rootFile)
	if err != nil {
		fail(err)
	}
	for _, gzip := range []bool{false, true} {
		graphBytes, graphPages, err := syncGraph(client, *proxy, *token, *window, gzip)
		if err != nil {
			fail(fmt.Errorf("graph sync: %v", err))
		}
		deviceBytes, devicePages, err := syncDevice(client, *bridge, *token, *window, gzip)
		if err != nil {
			fail(fmt.Errorf("device sync: %v", err))
		}
		mode := "uncompressed"
		if gzip {
			mode = "gzip"
		}
		fmt.Printf("%-12s graph %9d bytes in %3d pages   device %9d bytes in %3d pages   device/graph %.3f\n",
			mode, graphBytes, graphPages, deviceBytes, devicePages, float64(deviceBytes)/float64(graphBytes))
	}
}

func newClient(rootFile string) (*http.Client, error) {
	pem, err := os.ReadFile(rootFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", rootFile)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		// Count the bytes as sent: no transparent decompression.
		DisableCompression: true,
	}}, nil
}

// fetch sends req and returns the body as it came over the wire and the
// body decoded.
func fetch(client *http.Client, req *http.Request, gzip bool) (wire, decoded []byte, err error) {
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	wire, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s: %d %.200s", req.URL, resp.StatusCode, wire)
	}
	decoded = wire
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if decoded, err = gunzip(wire); err != nil {
			return nil, nil, err
		}
	}
	return wire, decoded, nil
}

// syncGraph pages through the Inbox delta via the plain proxy, following
// Graph's links (re-aimed at the proxy), and counts the answers' bytes.
func syncGraph(client *http.Client, proxy, token string, window int, gzip bool) (int, int, error) {
	base, err := url.Parse(proxy)
	if err != nil {
		return 0, 0, err
	}
	next := proxy + "/v1.0/me/mailFolders/inbox/messages/delta?$select=" + graphSelect
	total, pages := 0, 0
	for next != "" && pages < 10000 {
		req, err := http.NewRequest(http.MethodGet, next, nil)
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Prefer", fmt.Sprintf(`odata.maxpagesize=%d, IdType="ImmutableId"`, window))
		wire, body, err := fetch(client, req, gzip)
		if err != nil {
			return 0, 0, err
		}
		total += len(wire)
		pages++
		next = gjson.GetBytes(body, "@odata\\.nextLink").String()
		if next != "" {
			link, err := url.Parse(next)
			if err != nil {
				return 0, 0, err
			}
			link.Scheme, link.Host = base.Scheme, base.Host
			next = link.String()
		}
	}
	return total, pages, nil
}

// syncDevice runs mail.sync through the bridge until more is false and
// counts the answers' bytes.
func syncDevice(client *http.Client, bridge, token string, window int, gzip bool) (int, int, error) {
	state := ""
	total, pages := 0, 0
	for pages < 10000 {
		args := map[string]any{"folder": "inbox", "window": window}
		if state != "" {
			args["state"] = state
		}
		envelope, _ := json.Marshal(map[string]any{"commands": []any{map[string]any{"id": "c1", "op": "mail.sync", "args": args}}})
		req, err := http.NewRequest(http.MethodPost, bridge+"/device/v1/batch", bytes.NewReader(envelope))
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		wire, body, err := fetch(client, req, gzip)
		if err != nil {
			return 0, 0, err
		}
		total += len(wire)
		pages++
		result := gjson.GetBytes(body, "results.0")
		if result.Get("status").Int() != 200 {
			return 0, 0, fmt.Errorf("mail.sync: %.300s", body)
		}
		state = result.Get("data.state").String()
		if !result.Get("data.more").Bool() {
			break
		}
	}
	return total, pages, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "syncbytes:", strings.TrimSpace(err.Error()))
	os.Exit(1)
}
